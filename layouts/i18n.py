"""The one message catalogue: every word the interface shows, in English and Chinese (zh-CN).

Terms follow the glossary in BACKGROUND.md (e.g. 指数 index, 告警 alarm, 派单 dispatch,
处置力量 response unit). A page asks :func:`text` for a key in the visitor's language;
a key missing from the catalogue is a programming error and raises ``KeyError`` (tests
check that every key has both languages with the same ``{placeholders}``).

Times: stored in UTC, shown in the city's zone (:func:`format_time`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGES: tuple[str, ...] = (ENGLISH, CHINESE)
DEFAULT_LANGUAGE = ENGLISH
# How each language names itself on the switch.
LANGUAGE_NAMES: dict[str, str] = {ENGLISH: "English", CHINESE: "中文"}

MESSAGES: dict[str, dict[str, str]] = {
    # the shell
    "app.name": {ENGLISH: "cityops", CHINESE: "cityops 一网统管"},
    "nav.command_view": {ENGLISH: "Command view", CHINESE: "指挥大屏"},
    "nav.dispatch": {ENGLISH: "Dispatch", CHINESE: "派单调度"},
    "nav.reports": {ENGLISH: "Reports", CHINESE: "分析报表"},
    "nav.feeds": {ENGLISH: "Feeds", CHINESE: "数据接入"},
    "nav.audit": {ENGLISH: "Audit", CHINESE: "审计日志"},
    "nav.users": {ENGLISH: "Users", CHINESE: "用户管理"},
    "nav.sign_out": {ENGLISH: "Sign out", CHINESE: "退出登录"},
    "nav.language": {ENGLISH: "Language", CHINESE: "语言"},
    "nav.time_zone": {ENGLISH: "Times in {zone}", CHINESE: "时间为 {zone}"},
    "role.viewer": {ENGLISH: "viewer", CHINESE: "查看员"},
    "role.dispatcher": {ENGLISH: "dispatcher", CHINESE: "调度员"},
    "role.analyst": {ENGLISH: "analyst", CHINESE: "分析员"},
    "role.admin": {ENGLISH: "admin", CHINESE: "管理员"},
    # sign-in
    "login.title": {ENGLISH: "Sign in", CHINESE: "登录"},
    "login.name": {ENGLISH: "Name", CHINESE: "用户名"},
    "login.password": {ENGLISH: "Password", CHINESE: "密码"},
    "login.submit": {ENGLISH: "Sign in", CHINESE: "登录"},
    "login.refused": {ENGLISH: "Wrong name or password, or too many attempts.",
                      CHINESE: "用户名或密码错误，或尝试次数过多。"},
    "login.expired": {ENGLISH: "The form expired. Please sign in again.", CHINESE: "表单已过期，请重新登录。"},
    "login.database_down": {ENGLISH: "The database does not answer; try again shortly.",
                            CHINESE: "数据库无响应，请稍后再试。"},
    # refusals
    "forbidden.title": {ENGLISH: "Not allowed", CHINESE: "无权访问"},
    "forbidden.body": {ENGLISH: "Your role may not open this page.", CHINESE: "您的角色无权打开此页面。"},
    "forbidden.back": {ENGLISH: "Back to the command view", CHINESE: "返回指挥大屏"},
    "not_found.title": {ENGLISH: "Page not found", CHINESE: "页面不存在"},
    "not_found.body": {ENGLISH: "There is no page at {path}.", CHINESE: "{path} 没有对应的页面。"},
    # page shells that later issues fill
    "page.command_view.title": {ENGLISH: "Command view", CHINESE: "指挥大屏"},
    "page.district.title": {ENGLISH: "District {code}", CHINESE: "区域 {code}"},
    "page.dispatch.title": {ENGLISH: "Dispatch", CHINESE: "派单调度"},
    "page.dispatch.pending": {
        ENGLISH: "The incident queue beside a map of incidents and response units, with dispatch of the nearest "
                 "available unit, will appear here.",
        CHINESE: "这里将显示事件队列、事件与处置力量地图，并可就近派单。"},
    "page.reports.title": {ENGLISH: "Reports", CHINESE: "分析报表"},
    "page.reports.pending": {
        ENGLISH: "The indicator report builder (period, units, domains, bucket) and its exports will appear here.",
        CHINESE: "这里将提供指标报表（时段、区域、领域、粒度）及导出。"},
    # feeds
    "page.feeds.title": {ENGLISH: "Feeds", CHINESE: "数据接入"},
    "feeds.as_of": {ENGLISH: "As of {time}", CHINESE: "数据截至 {time}"},
    "feeds.feeds": {ENGLISH: "Feeds", CHINESE: "数据流"},
    "feeds.feed": {ENGLISH: "Feed", CHINESE: "数据流"},
    "feeds.rate": {ENGLISH: "Messages / s", CHINESE: "消息/秒"},
    "feeds.last_message": {ENGLISH: "Last message", CHINESE: "最近消息"},
    "feeds.last_hour": {ENGLISH: "Last hour", CHINESE: "近一小时"},
    "feeds.readings": {ENGLISH: "Sensor readings", CHINESE: "传感器读数"},
    "feeds.events": {ENGLISH: "Events", CHINESE: "事件"},
    "feeds.units": {ENGLISH: "Response units", CHINESE: "处置力量"},
    "feeds.sensors": {ENGLISH: "Sensors", CHINESE: "传感器"},
    "feeds.sensors_summary": {
        ENGLISH: "{fresh} fresh, {stale} stale, {silent} never heard, {maintenance} in maintenance (of {total})",
        CHINESE: "共 {total} 个：{fresh} 个正常，{stale} 个超时，{silent} 个从未上报，{maintenance} 个维护中"},
    "feeds.stale_sensors": {ENGLISH: "Stale sensors (longest silent first)", CHINESE: "超时传感器（按静默时长）"},
    "feeds.sensor": {ENGLISH: "Sensor", CHINESE: "传感器"},
    "feeds.kind": {ENGLISH: "Kind", CHINESE: "类型"},
    "feeds.unit": {ENGLISH: "Area", CHINESE: "所属区域"},
    "feeds.last_seen": {ENGLISH: "Last seen", CHINESE: "最近上报"},
    "feeds.silent_for": {ENGLISH: "Silent for", CHINESE: "静默时长"},
    "feeds.never": {ENGLISH: "never", CHINESE: "从未"},
    "feeds.rejects": {ENGLISH: "Newest rejects", CHINESE: "最新拒收消息"},
    "feeds.rejects_by_reason": {ENGLISH: "Rejects in the last hour by reason", CHINESE: "近一小时拒收原因统计"},
    "feeds.time": {ENGLISH: "Time", CHINESE: "时间"},
    "feeds.topic": {ENGLISH: "Topic", CHINESE: "主题"},
    "feeds.reason": {ENGLISH: "Reason", CHINESE: "原因"},
    "feeds.count": {ENGLISH: "Count", CHINESE: "数量"},
    "feeds.payload": {ENGLISH: "Payload (start)", CHINESE: "消息内容（开头）"},
    "feeds.processes": {ENGLISH: "Processes", CHINESE: "进程状态"},
    "feeds.process": {ENGLISH: "Process", CHINESE: "进程"},
    "feeds.state": {ENGLISH: "State", CHINESE: "状态"},
    "feeds.heartbeat": {ENGLISH: "Heartbeat", CHINESE: "心跳"},
    "feeds.lag": {ENGLISH: "Lag", CHINESE: "延迟"},
    "feeds.totals": {ENGLISH: "Messages / readings / rejects", CHINESE: "消息 / 读数 / 拒收"},
    "feeds.silent_process": {ENGLISH: "no heartbeat for {age}", CHINESE: "已 {age} 无心跳"},
    "feeds.none": {ENGLISH: "None.", CHINESE: "无。"},
    "feeds.no_processes": {ENGLISH: "No process has reported yet: is the ingest running?",
                           CHINESE: "尚无进程上报：数据接入进程是否在运行？"},
    "feeds.database_down": {ENGLISH: "The database does not answer; the figures below are not current.",
                            CHINESE: "数据库无响应，以下数据不是最新的。"},
    # audit
    "page.audit.title": {ENGLISH: "Audit log", CHINESE: "审计日志"},
    "audit.user": {ENGLISH: "User", CHINESE: "用户"},
    "audit.action": {ENGLISH: "Action", CHINESE: "操作"},
    "audit.from": {ENGLISH: "From (city time)", CHINESE: "起（本地时间）"},
    "audit.to": {ENGLISH: "To (city time)", CHINESE: "止（本地时间）"},
    "audit.any": {ENGLISH: "any", CHINESE: "全部"},
    "audit.time": {ENGLISH: "Time", CHINESE: "时间"},
    "audit.target": {ENGLISH: "Target", CHINESE: "对象"},
    "audit.before": {ENGLISH: "Before", CHINESE: "变更前"},
    "audit.after": {ENGLISH: "After", CHINESE: "变更后"},
    "audit.address": {ENGLISH: "Address", CHINESE: "地址"},
    "audit.rows": {ENGLISH: "{count} rows (newest first, at most {limit})",
                   CHINESE: "{count} 条（最新在前，最多 {limit} 条）"},
    "audit.bad_time": {ENGLISH: "Not a time: {value} (use YYYY-MM-DD or YYYY-MM-DD HH:MM)",
                       CHINESE: "时间格式无效：{value}（请用 YYYY-MM-DD 或 YYYY-MM-DD HH:MM）"},
    # users
    "page.users.title": {ENGLISH: "Users", CHINESE: "用户管理"},
    "users.name": {ENGLISH: "Name", CHINESE: "用户名"},
    "users.role": {ENGLISH: "Role", CHINESE: "角色"},
    "users.status": {ENGLISH: "Status", CHINESE: "状态"},
    "users.enabled": {ENGLISH: "enabled", CHINESE: "启用"},
    "users.disabled": {ENGLISH: "disabled", CHINESE: "已停用"},
    "users.last_login": {ENGLISH: "Last sign-in", CHINESE: "最近登录"},
    "users.add": {ENGLISH: "Add user", CHINESE: "新增用户"},
    "users.set_role": {ENGLISH: "Set role", CHINESE: "设置角色"},
    "users.disable": {ENGLISH: "Disable", CHINESE: "停用"},
    "users.enable": {ENGLISH: "Enable", CHINESE: "启用"},
    "users.new_password": {ENGLISH: "New password", CHINESE: "重置密码"},
    "users.selected": {ENGLISH: "Selected user", CHINESE: "所选用户"},
    "users.added": {ENGLISH: "Added {name}. Their password, shown once: {password}",
                    CHINESE: "已新增 {name}。初始密码（仅显示一次）：{password}"},
    "users.password_set": {ENGLISH: "New password for {name}, shown once: {password}",
                           CHINESE: "{name} 的新密码（仅显示一次）：{password}"},
    "users.role_set": {ENGLISH: "{name} is now {role}.", CHINESE: "{name} 的角色已设为 {role}。"},
    "users.disabled_done": {ENGLISH: "{name} is disabled.", CHINESE: "已停用 {name}。"},
    "users.enabled_done": {ENGLISH: "{name} is enabled.", CHINESE: "已启用 {name}。"},
    "users.not_yourself": {ENGLISH: "You cannot disable yourself or change your own role.",
                           CHINESE: "不能停用自己或修改自己的角色。"},
    "users.pick_one": {ENGLISH: "Choose a user first.", CHINESE: "请先选择用户。"},
    "users.error": {ENGLISH: "Not done: {reason}", CHINESE: "未完成：{reason}"},
    # dispatch
    "dispatch.queue": {ENGLISH: "Incident queue", CHINESE: "事件队列"},
    "dispatch.sort": {ENGLISH: "Sort by", CHINESE: "排序"},
    "dispatch.sort.sla": {ENGLISH: "SLA left", CHINESE: "剩余时限"},
    "dispatch.sort.severity": {ENGLISH: "Severity", CHINESE: "严重程度"},
    "dispatch.sort.age": {ENGLISH: "Age", CHINESE: "等待时长"},
    "dispatch.show": {ENGLISH: "Show", CHINESE: "显示"},
    "dispatch.show.open": {ENGLISH: "Open", CHINESE: "未办结"},
    "dispatch.show.all": {ENGLISH: "All (last 7 days)", CHINESE: "全部（近 7 天）"},
    "dispatch.incident": {ENGLISH: "Incident", CHINESE: "事件"},
    "dispatch.category": {ENGLISH: "Category", CHINESE: "类别"},
    "dispatch.severity": {ENGLISH: "Severity", CHINESE: "严重程度"},
    "dispatch.status": {ENGLISH: "Status", CHINESE: "状态"},
    "dispatch.area": {ENGLISH: "Area", CHINESE: "区域"},
    "dispatch.age": {ENGLISH: "Waiting", CHINESE: "等待"},
    "dispatch.sla_left": {ENGLISH: "SLA left", CHINESE: "剩余时限"},
    "dispatch.overdue": {ENGLISH: "OVERDUE {time}", CHINESE: "已超时 {time}"},
    "dispatch.events": {ENGLISH: "Reports", CHINESE: "报告数"},
    "dispatch.none_open": {ENGLISH: "No open incident.", CHINESE: "没有未办结的事件。"},
    "dispatch.pick": {ENGLISH: "Select an incident in the queue or on the map.", CHINESE: "请在队列或地图上选择事件。"},
    "dispatch.reporter": {ENGLISH: "Reporter", CHINESE: "报告人"},
    "dispatch.show_phone": {ENGLISH: "Show number", CHINESE: "显示号码"},
    "dispatch.phone_shown": {ENGLISH: "Number (this view is logged): {phone}",
                             CHINESE: "号码（本次查看已记录）：{phone}"},
    "dispatch.ack": {ENGLISH: "Acknowledge", CHINESE: "确认接警"},
    "dispatch.arrive": {ENGLISH: "On scene", CHINESE: "已到场"},
    "dispatch.resolve": {ENGLISH: "Resolve", CHINESE: "办结"},
    "dispatch.reopen": {ENGLISH: "Reopen", CHINESE: "重新打开"},
    "dispatch.note": {ENGLISH: "Resolution note", CHINESE: "办结说明"},
    "dispatch.nearest": {ENGLISH: "Nearest available units", CHINESE: "就近可用处置力量"},
    "dispatch.unit": {ENGLISH: "Unit", CHINESE: "处置力量"},
    "dispatch.kind": {ENGLISH: "Kind", CHINESE: "类型"},
    "dispatch.distance": {ENGLISH: "Distance", CHINESE: "距离"},
    "dispatch.eta": {ENGLISH: "ETA", CHINESE: "预计到达"},
    "dispatch.send": {ENGLISH: "Dispatch", CHINESE: "派单"},
    "dispatch.no_units": {ENGLISH: "No available unit of a suitable kind.", CHINESE: "没有合适的可用处置力量。"},
    "dispatch.done": {ENGLISH: "Incident {id}: {action} done.", CHINESE: "事件 {id}：{action}已完成。"},
    "dispatch.sent": {ENGLISH: "Unit {unit} dispatched to incident {id}.", CHINESE: "已派 {unit} 处置事件 {id}。"},
    "dispatch.refused": {ENGLISH: "Not done: {reason}", CHINESE: "未完成：{reason}"},
    "dispatch.ranking": {ENGLISH: "District ranking, last 7 days (一表亮晒)", CHINESE: "一表亮晒：近 7 天各区排名"},
    "dispatch.rank": {ENGLISH: "Rank", CHINESE: "排名"},
    "dispatch.received": {ENGLISH: "Received", CHINESE: "接报"},
    "dispatch.closure_rate": {ENGLISH: "Closure rate", CHINESE: "办结率"},
    "dispatch.on_time_rate": {ENGLISH: "On-time rate", CHINESE: "按时办结率"},
    "dispatch.median_resolve": {ENGLISH: "Median time to resolve", CHINESE: "办结时长中位数"},
    "dispatch.open_overdue": {ENGLISH: "Open overdue", CHINESE: "超时未办结"},
    "dispatch.no_ranking": {ENGLISH: "No incident in the last 7 days.", CHINESE: "近 7 天没有事件。"},
    "dispatch.map": {ENGLISH: "Map of incidents and response units", CHINESE: "事件与处置力量地图"},
    "dispatch.new": {ENGLISH: "Report an incident", CHINESE: "新建事件"},
    "dispatch.new_hint": {ENGLISH: "Click the map where it is, or give the coordinates.",
                          CHINESE: "请在地图上点击事发位置，或填写坐标。"},
    "dispatch.title": {ENGLISH: "What happened", CHINESE: "事件描述"},
    "dispatch.source": {ENGLISH: "Reported by", CHINESE: "来源"},
    "dispatch.members": {ENGLISH: "{n} reports grouped in this incident (newest 20)",
                         CHINESE: "本事件合并了 {n} 条报告（显示最新 20 条）"},
    "dispatch.lon": {ENGLISH: "Longitude", CHINESE: "经度"},
    "dispatch.lat": {ENGLISH: "Latitude", CHINESE: "纬度"},
    "dispatch.create": {ENGLISH: "Create incident", CHINESE: "创建事件"},
    "dispatch.created": {ENGLISH: "Incident {id} created.", CHINESE: "已创建事件 {id}。"},
    "dispatch.joined": {ENGLISH: "Joined incident {id} (same category and area within 30 min).",
                        CHINESE: "已并入事件 {id}（30 分钟内同区域同类别）。"},
    "status.new": {ENGLISH: "new", CHINESE: "新接报"},
    "status.acknowledged": {ENGLISH: "acknowledged", CHINESE: "已确认"},
    "status.dispatched": {ENGLISH: "dispatched", CHINESE: "已派单"},
    "status.on_scene": {ENGLISH: "on scene", CHINESE: "已到场"},
    "status.resolved": {ENGLISH: "resolved", CHINESE: "已办结"},
    "severity.minor": {ENGLISH: "minor", CHINESE: "一般"},
    "severity.major": {ENGLISH: "major", CHINESE: "较大"},
    "severity.critical": {ENGLISH: "critical", CHINESE: "重大"},
    "unit_status.available": {ENGLISH: "available", CHINESE: "可用"},
    "unit_status.busy": {ENGLISH: "busy", CHINESE: "执行中"},
    "unit_status.offline": {ENGLISH: "offline", CHINESE: "离线"},
    # times
    "time.seconds": {ENGLISH: "{n} s", CHINESE: "{n} 秒"},
    "time.minutes": {ENGLISH: "{n} min", CHINESE: "{n} 分钟"},
    "time.hours": {ENGLISH: "{n} h", CHINESE: "{n} 小时"},
    "time.days": {ENGLISH: "{n} d", CHINESE: "{n} 天"},
    # command view and drill-down
    "vitals.domain.index": {ENGLISH: "Vital-sign index", CHINESE: "运行体征指数"},
    "vitals.domain.air": {ENGLISH: "Air quality", CHINESE: "空气质量"},
    "vitals.domain.traffic": {ENGLISH: "Traffic", CHINESE: "道路交通"},
    "vitals.domain.waterlogging": {ENGLISH: "Waterlogging", CHINESE: "道路积水"},
    "vitals.domain.rainfall": {ENGLISH: "Rainfall", CHINESE: "降雨"},
    "vitals.domain.gas": {ENGLISH: "Gas", CHINESE: "燃气"},
    "vitals.domain.water_supply": {ENGLISH: "Water supply", CHINESE: "供水"},
    "vitals.domain.power": {ENGLISH: "Power", CHINESE: "电力"},
    "vitals.domain.crowd": {ENGLISH: "Crowds", CHINESE: "人群密度"},
    "vitals.domain.noise": {ENGLISH: "Noise", CHINESE: "噪声"},
    "vitals.domain.heat": {ENGLISH: "Heat", CHINESE: "高温"},
    "vitals.domain.public_safety": {ENGLISH: "Public safety", CHINESE: "公共安全"},
    "vitals.level.green": {ENGLISH: "green", CHINESE: "绿色"},
    "vitals.level.amber": {ENGLISH: "amber", CHINESE: "黄色"},
    "vitals.level.red": {ENGLISH: "red", CHINESE: "红色"},
    "vitals.level.grey": {ENGLISH: "grey", CHINESE: "灰色"},
    "vitals.no_data": {ENGLISH: "no fresh data", CHINESE: "无最新数据"},
    "vitals.legend_grey": {ENGLISH: "grey: no fresh data", CHINESE: "灰色：无最新数据"},
    "vitals.trend.up": {ENGLISH: "improving", CHINESE: "好转"},
    "vitals.trend.down": {ENGLISH: "worsening", CHINESE: "恶化"},
    "vitals.trend.flat": {ENGLISH: "steady", CHINESE: "平稳"},
    "vitals.predicted": {ENGLISH: "predicted {level} in {minutes} min", CHINESE: "预计 {minutes} 分钟后转{level}"},
    "vitals.as_of": {ENGLISH: "Data as of {time}", CHINESE: "数据截至 {time}"},
    "vitals.stale": {ENGLISH: "NOT CURRENT: computed {age} ago. Is the indicators process running?",
                     CHINESE: "数据未更新：{age}前计算。指标计算进程是否在运行？"},
    "vitals.none": {ENGLISH: "No vital signs computed yet: is the indicators process running?",
                    CHINESE: "尚无运行体征数据：指标计算进程是否在运行？"},
    "command.show": {ENGLISH: "Map shows", CHINESE: "地图显示"},
    "command.city_index": {ENGLISH: "City index", CHINESE: "城市运行指数"},
    "command.incidents": {ENGLISH: "Open incidents", CHINESE: "未结事件"},
    "command.ticker": {ENGLISH: "Newest warnings (24 h)", CHINESE: "最新预警（24 小时）"},
    "command.ticker_empty": {ENGLISH: "No change to amber or red in the last 24 hours.",
                             CHINESE: "近 24 小时没有转为黄色或红色的变化。"},
    "command.ticker_item": {ENGLISH: "{unit}: {domain} turned {level}", CHINESE: "{unit}：{domain}转为{level}"},
    "command.map": {ENGLISH: "Map of the city's units coloured by vital-sign level; click a unit's mark to open it",
                    CHINESE: "按运行体征等级着色的城市区域地图；点击区域标记查看详情"},
    "command.open_unit": {ENGLISH: "Open {unit}", CHINESE: "查看 {unit}"},
    "district.unknown": {ENGLISH: "There is no unit with the code {code}.", CHINESE: "没有代码为 {code} 的区域。"},
    "district.back": {ENGLISH: "Back to the command view", CHINESE: "返回指挥大屏"},
    "district.level": {ENGLISH: "Level: {level}", CHINESE: "层级：{level}"},
    "district.children": {ENGLISH: "Units within, by colour", CHINESE: "下级区域（按颜色）"},
    "district.no_children": {ENGLISH: "This is the lowest level: no units within.",
                             CHINESE: "已是最低层级，没有下级区域。"},
    "district.domains": {ENGLISH: "Domain scores and why", CHINESE: "各领域评分及原因"},
    "district.domain": {ENGLISH: "Domain", CHINESE: "领域"},
    "district.score": {ENGLISH: "Score", CHINESE: "评分"},
    "district.colour": {ENGLISH: "Colour", CHINESE: "颜色"},
    "district.trend": {ENGLISH: "Trend", CHINESE: "趋势"},
    "district.why": {ENGLISH: "Why this colour", CHINESE: "颜色原因"},
    "district.history": {ENGLISH: "Scores over the last 24 hours", CHINESE: "近 24 小时评分"},
    "district.no_history": {ENGLISH: "No history in the last 24 hours yet.", CHINESE: "近 24 小时尚无历史数据。"},
    "district.incidents": {ENGLISH: "Open incidents here", CHINESE: "本区域未结事件"},
    "district.no_incidents": {ENGLISH: "No open incident here.", CHINESE: "本区域没有未结事件。"},
    "district.no_values": {ENGLISH: "No vital signs for this unit yet.", CHINESE: "该区域尚无运行体征数据。"},
    "why.sensor": {ENGLISH: "sensor {sensor}: {metric} {value} ({age} ago)",
                   CHINESE: "传感器 {sensor}：{metric} {value}（{age}前）"},
    "why.sensor_stale": {ENGLISH: "sensor {sensor}: {metric} silent for {age}",
                         CHINESE: "传感器 {sensor}：{metric} 已 {age} 无数据"},
    "why.child": {ENGLISH: "{unit}: {score} ({level})", CHINESE: "{unit}：{score}（{level}）"},
    "why.domain": {ENGLISH: "{domain}: {score} ({level})", CHINESE: "{domain}：{score}（{level}）"},
    "why.incidents": {ENGLISH: "{open} open, {overdue} overdue, {critical} critical",
                      CHINESE: "未结 {open} 起，超时 {overdue} 起，重大 {critical} 起"},
    "why.nothing": {ENGLISH: "no fresh input", CHINESE: "无最新数据"},
}


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The message ``key`` in ``language`` (English if the language is unknown), filled with ``values``."""
    entry = MESSAGES[key]
    template = entry.get(language, entry[ENGLISH])
    return template.format(**values) if values else template


def language_or_default(candidate: str | None) -> str:
    """``candidate`` if it is one of :data:`LANGUAGES`, else the default (English)."""
    return candidate if candidate in LANGUAGES else DEFAULT_LANGUAGE


def format_time(moment: datetime | None, zone: ZoneInfo, *, seconds: bool = True) -> str:
    """``moment`` (timezone-aware) as city time, e.g. ``2026-11-22 09:02:10 EST``; ``—`` for None."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        raise ValueError("format_time needs a timezone-aware time (stored times are UTC)")
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def format_duration(seconds: float | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A duration in the largest whole unit that fits (``42 s``, ``5 min``, ``3 h``, ``2 d``)."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    for limit, unit, key in ((60, 1, "time.seconds"), (3600, 60, "time.minutes"), (86400, 3600, "time.hours")):
        if seconds < limit:
            return text(key, language, n=int(seconds // unit))
    return text("time.days", language, n=int(seconds // 86400))
