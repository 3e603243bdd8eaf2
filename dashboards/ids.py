"""Component ids, one constant each, so pages, callbacks and browser tests agree on them."""

# Shell (app layout, every page)
#: The language pages render in: the switch's choice, else the default (memory only).
LANG = "lang-current"
#: The switch's choice, remembered in the browser (localStorage); empty until it is used.
LANG_CHOICE = "lang-store"
#: The language for a browser without a choice: the setting, else Accept-Language.
LANG_DEFAULT = "lang-default"
LANG_EN = "lang-en"
LANG_ZH = "lang-zh"
TOKEN = "token-store"
TOKEN_OPEN = "token-open"
TOKEN_DIALOG = "token-dialog"
TOKEN_INPUT = "token-input"
TOKEN_SAVE = "token-save"
TOKEN_CLEAR = "token-clear"
TOKEN_CLOSE = "token-close"
TOKEN_STATE = "token-state"
#: Output of the callback that keeps the download cookie in step with the token (no data).
TOKEN_COOKIE = "token-cookie"
NAV = "nav"
NAV_LINK = "nav-link"  # pattern-matching type; index = page key

# Bugs list
BUGS_URL = "bugs-url"
BUGS_STATE = "bugs-state"
BUGS_SEARCH = "bugs-search"
BUGS_SEARCH_GO = "bugs-search-go"
BUGS_SORT = "bugs-sort"
BUGS_FACETS = "bugs-facets"
BUGS_FACET_ITEM = "bugs-facet-item"  # pattern-matching type; field, value
BUGS_CLEAR = "bugs-clear"
BUGS_TABLE = "bugs-table"
BUGS_TOTAL = "bugs-total"
BUGS_PREV = "bugs-prev"
BUGS_NEXT = "bugs-next"
BUGS_ERROR = "bugs-error"
BUGS_REFRESH = "bugs-refresh"
BUGS_RESULTS = "bugs-results"
BUG_MERGED_INTO = "bug-merged-into"
BUGS_PICK = "bugs-pick"  # pattern-matching type; bug
BUGS_MERGE_TARGET = "bugs-merge-target"
BUGS_MERGE = "bugs-merge"
BUGS_MERGE_RESULT = "bugs-merge-result"

#: The page's download links (CSV, NDJSON) of its whole search.
BUGS_DOWNLOAD = "bugs-download"  # pattern-matching type; format

# Bug detail
BUG_ID = "bug-id"
BUG_RELOAD = "bug-reload"
BUG_MAIN = "bug-main"
BUG_STATUS_SHOWN = "bug-status-shown"
BUG_ACTIONS = "bug-actions"
BUG_MOVE = "bug-move"  # pattern-matching type; status
BUG_REASON = "bug-reason"
BUG_NOTE = "bug-note"
BUG_FIXED_VERSION = "bug-fixed-version"
BUG_MESSAGE = "bug-message"
BUG_REPAIR = "bug-repair"
BUG_REPAIR_PENDING = "bug-repair-pending"
BUG_REPAIR_OFF = "bug-repair-off"
BUG_TIMELINE = "bug-timeline"
BUG_POLL = "bug-poll"
BUG_STACK = "bug-stack"
BUG_CHART = "bug-chart"
#: The bug's life as its occurrences are searched (id, from, to); rendered with the bug, so
#: the chart and the environments/versions seen are asked for again when the bug is.
BUG_WINDOW = "bug-window"
BUG_SEEN = "bug-seen"
#: The occurrences table (documents.grid), the search it lists, its cursors, the opened row.
BUG_GRID = "bug-grid"
BUG_DOCS_STATE = "bug-docs-state"
BUG_PAGING = "bug-paging"
BUG_DOC = "bug-doc"
BUG_DOC_CLOSE = "bug-doc-close"  # pattern-matching type (it comes and goes)

# Repairs
REPAIRS_PROJECT = "repairs-project"
REPAIRS_RESULT = "repairs-result"
REPAIRS_TABLE = "repairs-table"
REPAIRS_PAGE = "repairs-page"
REPAIRS_PREV = "repairs-prev"
REPAIRS_NEXT = "repairs-next"
REPAIRS_TOTAL = "repairs-total"

# alerts page
ALERTS_BODY = "alerts-body"

# Projects
PROJECTS_GRID = "projects-grid"
PROJECTS_MESSAGE = "projects-message"
PROJECTS_RELOAD = "projects-reload"
PROJECTS_REPAIR_STATE = "projects-repair-state"

# Discover
DISCOVER_STATE = "discover-state"
DISCOVER_URL = "discover-url"
DISCOVER_QUERY = "discover-query"
DISCOVER_GO = "discover-go"
DISCOVER_QUICK = "discover-quick"
DISCOVER_FROM = "discover-from"
DISCOVER_TO = "discover-to"
DISCOVER_HISTOGRAM = "discover-histogram"
DISCOVER_FIELDS = "discover-fields"
DISCOVER_FIELD_VALUE = "discover-field-value"  # pattern-matching type; field, value
DISCOVER_DOCS = "discover-docs"
DISCOVER_GRID = "discover-grid"
#: The column chooser (multi-select); its value is in the URL as `columns=a,b`.
DISCOVER_COLUMNS = "discover-columns"
#: Cursors to the grid's next blocks, keyed by the search they belong to.
DISCOVER_PAGING = "discover-paging"
#: The opened occurrence (fetched when a row is clicked) and its close button.
DISCOVER_DOC = "discover-doc"
DISCOVER_DOC_CLOSE = "discover-doc-close"  # pattern-matching type (it comes and goes)
DISCOVER_TOTAL = "discover-total"
DISCOVER_ERROR = "discover-error"
#: The field sidebar's name filter and each field's panel (hidden when its name does not match).
DISCOVER_FIELD_FILTER = "discover-field-filter"
DISCOVER_FIELD_PANEL = "discover-field-panel"  # pattern-matching type; field
#: The filter pills (from the state) and each pill's buttons.
DISCOVER_PILLS = "discover-pills"
DISCOVER_PILL = "discover-pill"  # pattern-matching type; action, index
#: Auto-refresh: the choice (off, 10s, 1m; in the URL) and its timer.
DISCOVER_REFRESH = "discover-refresh"
DISCOVER_TICK = "discover-tick"
#: Download links of the current search (CSV, NDJSON).
DISCOVER_DOWNLOAD = "discover-download"  # pattern-matching type; format
#: Saved searches: name, save, the list (choosing one loads it), delete, message.
SAVED_NAME = "saved-name"
SAVED_SAVE = "saved-save"
SAVED_LIST = "saved-list"
SAVED_DELETE = "saved-delete"
SAVED_MESSAGE = "saved-message"
#: The share link (the page's whole URL) and its copy button.
SHARE_LINK = "share-link"
SHARE_COPY = "share-copy"
