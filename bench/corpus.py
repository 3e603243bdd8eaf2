"""Realistic error text and field values for both benchmarks: stack traces of 20-40 lines in the
shapes the integration guide's clients send (Python, browser JavaScript, Flutter/Dart), messages
in English and Chinese, and the sources, levels, environments, versions and status changes the
data sets draw from. The store tests' data set (tests/store/datagen.py) draws from the same
values, so they are said once, here, where the shipped benchmarks find them."""

from __future__ import annotations

import random

#: Field values a data set draws from; a repeated value is drawn more often.
SOURCES = ("runtime", "runtime", "runtime", "cicd", "deployment")
LEVELS = ("ERROR", "ERROR", "ERROR", "CRITICAL", "WARNING", "INFO")
ENVIRONMENTS = ("prod", "prod", "staging", "dev")
VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0")
#: (status, number of bugs) moved through the workflow after seeding.
STATUS_CHANGES = (("FIXED", 30), ("VERIFIED", 15), ("DEPLOYED", 10), ("PENDING_FIX", 20),
                  ("FIX_FAILED", 8))
#: (error type, message template) of the store tests' data set; Chinese and English, some
#: sharing characters on purpose.
BASE_MESSAGES = (
    ("TimeoutError", "数据库连接超时"),
    ("PaymentError", "支付接口返回错误"),
    ("SessionError", "用户会话已过期，请重新登录"),
    ("CacheError", "缓存读取失败"),
    ("ConflictError", "订单状态更新冲突"),
    ("ConnectionError", "connection refused by upstream"),
    ("TimeoutError", "timeout while reading response from upstream"),
    ("PaymentError", "payment gateway returned 502"),
    ("TypeError", "null reference in request handler"),
    ("ValueError", "cannot parse JSON payload"),
    ("KeyError", "missing key user_id in session"),
    ("DatabaseError", "deadlock detected, 数据库 transaction rolled back"),
)
#: (error type, message); the store tests' messages plus more of the same kinds.
MESSAGES = (
    *BASE_MESSAGES,
    ("OperationalError", "could not connect to server: Connection refused"),
    ("IntegrityError", "duplicate key value violates unique constraint \"orders_pkey\""),
    ("PermissionError", "用户无权访问该资源"),
    ("ValidationError", "手机号格式不正确"),
    ("TimeoutError", "第三方短信服务响应超时"),
    ("RedisError", "Redis 连接池已耗尽"),
    ("MemoryError", "out of memory while rendering report"),
    ("FileNotFoundError", "No such file or directory: '/data/uploads/avatar.png'"),
    ("AttributeError", "'NoneType' object has no attribute 'id'"),
    ("ZeroDivisionError", "division by zero"),
    ("RangeError", "Maximum call stack size exceeded"),
    ("NetworkError", "网络请求失败，请检查网络设置"),
)
CLIENTS = ("python", "javascript", "dart")
_PY_FUNCS = ("get_user", "dispatch", "handle", "process_order", "charge", "render", "load",
             "save", "validate", "run", "execute", "fetch_profile", "sync_inventory")
_PY_CODE = ("user_id = int(request.GET['id'])", "return self.get_response(request)",
            "response = handler(request, *args, **kwargs)", "order.refresh_from_db()",
            "result = client.post(url, json=payload, timeout=3)", "conn.execute(sql, params)",
            "data = serializer.validated_data", "return func(*args, **kwargs)",
            "value = cache.get(key) or compute(key)", "raise self.error_class(message)")
_PY_LIBS = ("/usr/local/lib/python3.11/site-packages/django/core/handlers/exception.py",
            "/usr/local/lib/python3.11/site-packages/django/core/handlers/base.py",
            "/usr/local/lib/python3.11/site-packages/rest_framework/views.py",
            "/usr/local/lib/python3.11/site-packages/starlette/routing.py",
            "/usr/local/lib/python3.11/site-packages/fastapi/routing.py",
            "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/base.py",
            "/usr/local/lib/python3.11/site-packages/redis/connection.py")
_JS_FUNCS = ("onClick", "handleSubmit", "fetchUser", "renderList", "useEffect", "dispatch",
             "commitRoot", "performWork", "Array.map", "Promise.then", "mountComponent")
_DART_FUNCS = ("HomeScreen.build", "ApiClient.get", "UserRepository.load", "_MyAppState.initState",
               "StatelessElement.build", "ComponentElement.performRebuild", "Element.rebuild",
               "BuildOwner.buildScope", "SchedulerBinding.handleDrawFrame")


def source_file(rng: random.Random, client: str, module: str) -> str:
    if client == "python":
        return f"apps/{module}/{rng.choice(('views', 'services', 'tasks', 'models'))}.py"
    if client == "javascript":
        return f"src/{rng.choice(('pages', 'components', 'hooks'))}/{module.title()}.tsx"
    return f"lib/{rng.choice(('screens', 'services', 'widgets'))}/{module}.dart"


def stack_trace(rng: random.Random, client: str, error_type: str, message: str,
                file_path: str, line: int) -> list[str]:
    """20-40 lines ending (Python) or starting (JS, Dart) at `file_path:line`."""
    n = rng.randint(20, 40)
    if client == "python":
        frames = (n - 2) // 2
        lines = ["Traceback (most recent call last):"]
        for _ in range(frames - 1):
            lines += [f'  File "{rng.choice(_PY_LIBS)}", line {rng.randint(20, 900)}, '
                      f"in {rng.choice(_PY_FUNCS)}", f"    {rng.choice(_PY_CODE)}"]
        lines += [f'  File "{file_path}", line {line}, in {rng.choice(_PY_FUNCS)}',
                  f"    {rng.choice(_PY_CODE)}", f"{error_type}: {message}"]
        return lines
    if client == "javascript":
        asset = f"https://app.example.com/assets/index-{rng.getrandbits(32):08x}.js"
        lines = [f"{error_type}: {message}",
                 f"    at {rng.choice(_JS_FUNCS)} ({file_path}:{line}:{rng.randint(1, 80)})"]
        lines += [f"    at {rng.choice(_JS_FUNCS)} ({asset}:1:{rng.randint(1000, 99999)})"
                  for _ in range(n - 2)]
        return lines
    lines = [f"#0      {rng.choice(_DART_FUNCS)} (package:app/{file_path[4:]}:{line}:7)"]
    lines += [f"#{i:<6} {rng.choice(_DART_FUNCS)} (package:flutter/src/widgets/"
              f"framework.dart:{rng.randint(100, 6000)}:{rng.randint(3, 30)})" for i in range(1, n)]
    return lines
