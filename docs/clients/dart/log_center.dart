// lib/log_center.dart: report errors of a Flutter app to Log Center.
//
// Settings are compile-time constants, given to `flutter run` or `flutter build`:
//   --dart-define=LOG_CENTER_URL=https://log-center.example.com  (default http://localhost:8002)
//   --dart-define=ENVIRONMENT=production                          (default development)
//   --dart-define=REPO_URL=https://git.example.com/team/app.git    (optional)
//   --dart-define=LOG_CENTER_PROJECT_ID=airhub_app                 (default airhub_app)
//   --dart-define=LOG_CENTER_KEY=...                               (the project's ingest key, optional)
// Needs the http package: `flutter pub add http`.
import 'dart:convert';

import 'package:http/http.dart' as http;

const logCenterUrl = String.fromEnvironment(
  'LOG_CENTER_URL',
  defaultValue: 'http://localhost:8002',
);
const environment = String.fromEnvironment('ENVIRONMENT', defaultValue: 'development');
const repoUrl = String.fromEnvironment('REPO_URL');
const projectId = String.fromEnvironment('LOG_CENTER_PROJECT_ID', defaultValue: 'airhub_app');
const ingestKey = String.fromEnvironment('LOG_CENTER_KEY');

// A frame's "(file:line:column)": "#0  main (package:airhub_app/main.dart:23:7)".
final _frame = RegExp(r'\((.+):(\d+):\d+\)$');

/// Sends [error] to Log Center; never throws, gives up after 3 seconds.
Future<void> reportError(
  Object error,
  StackTrace stackTrace, {
  Map<String, dynamic>? context,
}) async {
  try {
    final stackLines = stackTrace.toString().trimRight().split('\n');
    RegExpMatch? where;
    for (final line in stackLines) {
      where = _frame.firstMatch(line.trim());
      if (where != null) break;
    }
    final payload = <String, dynamic>{
      'project_id': projectId,
      'environment': environment,
      'level': 'ERROR',
      if (repoUrl.isNotEmpty) 'repo_url': repoUrl,
      'error': {
        'type': error.runtimeType.toString(),
        'message': error.toString(),
        'file_path': where?.group(1) ?? 'unknown',
        'line_number': int.tryParse(where?.group(2) ?? '0') ?? 0,
        'stack_trace': stackLines.take(50).toList(),
      },
      'context': context ?? <String, dynamic>{},
    };
    await http
        .post(
          Uri.parse('$logCenterUrl/api/v1/logs/report'),
          headers: {
            'Content-Type': 'application/json',
            if (ingestKey.isNotEmpty) 'X-LogCenter-Key': ingestKey,
          },
          body: jsonEncode(payload),
        )
        .timeout(const Duration(seconds: 3));
  } catch (_) {
    // reporting must never break the app
  }
}
