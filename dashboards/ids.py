"""Every component id of the single window, in one place (callbacks and tests name them from here)."""

# The shell: routing, session, live channel, header controls.
URL = "url"
PAGE = "page"
RENDERED = "rendered-page"  # the address the served layout was rendered for (the routing callback skips it)
SESSION = "session"  # {"role", "name", "lang", "kiosk"}: read once per page load
LIVE_TICK = "live-tick"  # bumped by assets/live.js when a change notice arrives
POLL = "poll"  # the fallback timer when the live channel is down
LINK = "link-state"  # {"up": bool, "since": ms}: the live channel's state, from live.js
BANNER = "conn-banner"
LANG = "lang-switch"
SOUND = "sound-toggle"
CLOCK = "clock"
NAV = "nav"

# Operator window panels.
KPI = "kpi-tiles"
MAP = "op-map"
MAP_VIEW = "map-view"  # the map's current lon/lat ranges (kiosk rotation sets it)
FEED = "feed"
ALARMS = "alarm-list"
SERVICES = "services"
TRENDS = "trends"
SEEN = "seen-versions"  # which data versions this browser already shows
CRITICAL = "critical-ids"  # ids of active critical alarms, for the sound
ROTATE = "kiosk-rotate"

# Alarm acknowledge dialog.
ACK_DIALOG = "ack-dialog"
ACK_TARGET = "ack-target"
ACK_COMMENT = "ack-comment"
ACK_SEND = "ack-send"
ACK_CANCEL = "ack-cancel"
ACK_RESULT = "ack-result"
ACK_BUTTON = "ack-button"  # pattern-matching: {"type": ACK_BUTTON, "alarm": id}

# Regent view.
REGENT_PERIOD = "regent-period"  # a choice group (layout/choice.py): the chosen days in "regent-period-value"
REGENT_DAYS = "regent-period-value"
REGENT_TABLE = "regent-table"
REGENT_AGENCY_FIG = "regent-agency-fig"
REGENT_PILLARS = "regent-pillars"
REGENT_TREND = "regent-trend"
REGENT_OVERDUE = "regent-overdue"
REGENT_EXPORT = "regent-export"

# Replay.
REPLAY_AT = "replay-at"
REPLAY_SPEED = "replay-speed"  # a choice group (layout/choice.py): the chosen speed in "replay-speed-value"
REPLAY_SPEED_VALUE = "replay-speed-value"
REPLAY_PLAY = "replay-play"
REPLAY_CLOCK = "replay-clock"  # {"at_ms", "playing", "speed", "wall_ms"}
REPLAY_TIMER = "replay-timer"
REPLAY_NOW = "replay-now"
REPLAY_KPI = "replay-kpi"
REPLAY_MAP = "replay-map"
REPLAY_FEED = "replay-feed"
REPLAY_ALARMS = "replay-alarms"
REPLAY_TRENDS = "replay-trends"
MAP_SEEN = "map-seen"
FRESH = "fresh-stamps"  # {panel: as-of ms}: live.js greys out panels whose data is too old
FOCUS = "map-focus"
SINK = "op-sink"
PAGE_TICK = "page-tick"  # pattern: {"type": PAGE_TICK, "page": name}, the live tick relayed into a page


def page_tick(page: str) -> dict:
    """The id of a page's own copy of the live tick (callbacks may only name what is on the page)."""
    return {"type": PAGE_TICK, "page": page}


# The integrator health page (/integrators).
INTEGRATORS_SUMMARY = "integrators-summary"
INTEGRATORS_TABLE = "integrators-table"

# The alarm system's KPIs (/alarm-kpis).
AKPI_PERIOD = "akpi-period"  # a choice group (layout/choice.py): the chosen days in "akpi-period-value"
AKPI_DAYS = "akpi-period-value"
AKPI_SUMMARY = "akpi-summary"
AKPI_TABLE = "akpi-table"
AKPI_TOP = "akpi-top"
AKPI_EXPORT = "akpi-export"
AKPI_CSV = "akpi-csv"

# Regional warnings (issue 12): the banner of the most severe warning in force, over the operator window.
WARNING_BANNER = "warning-banner"
# citizen services (issue 14)
REGENT_LAPOR = "regent-lapor"  # SP4N-LAPOR! stages late, per agency
# Incidents with SOPs (/incidents, issue 13).
INC_KPI = "inc-kpi"
INC_LIST = "inc-list"
INC_ROW = "inc-row"  # pattern-matching: {"type": INC_ROW, "incident": id}
INC_SELECTED = "inc-selected"  # the incident shown, by id
INC_BUMP = "inc-bump"  # bumped after a write, so the list and the view read again at once
INC_VIEW = "inc-view"
INC_MSG = "inc-msg"
INC_ALARM = "inc-alarm"  # the open alarm to open an incident from
INC_TYPE = "inc-type"
INC_TITLE = "inc-title"
INC_SEVERITY = "inc-severity"
INC_OPEN = "inc-open"
INC_STEP_DONE = "inc-step-done"  # pattern-matching: {"type": INC_STEP_DONE, "step": step id}
INC_STEP_SKIP = "inc-step-skip"  # pattern-matching: {"type": INC_STEP_SKIP, "step": step id}
INC_STEP_NOTE = "inc-step-note"  # pattern-matching: {"type": INC_STEP_NOTE, "step": step id}
INC_STATE = "inc-state"
INC_STATE_NOTE = "inc-state-note"
INC_STATE_GO = "inc-state-go"
INC_TICKET = "inc-ticket"
INC_LINK = "inc-link"
INC_REPORT = "inc-report"
INC_FORM = "inc-form"  # the open-an-incident form (hidden for viewers)
INC_CONTROLS = "inc-controls"  # the state and link forms of the incident shown (hidden for viewers)
INC_SHOWN = "inc-shown"  # which incident, at which update, the view shows (a live tick redraws only a changed one)

# alarm management (issue 17): a situation's "acknowledge all" button
SITUATION_ACK_BUTTON = "situation-ack-button"  # pattern-matching: {"type": SITUATION_ACK_BUTTON, "situation": id}
