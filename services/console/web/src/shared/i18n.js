// Chinese first, English switchable; the choice is remembered in localStorage.
import { ref } from 'vue'
import LABELS from './labels.js'
import { dir } from './api.js'

export const lang = ref(localStorage.getItem('hall.lang') || 'zh')

export function setLang(value) {
  lang.value = value
  localStorage.setItem('hall.lang', value)
  document.documentElement.lang = value === 'zh' ? 'zh-CN' : 'en'
}

const zh = {
  merge: '合并', split: '拆分', merge_into: '合并到哪件事项', merge_pick: '请选择同一社区、仍在办理的事项',
  merge_confirm: '确认合并？本事项的报事将并入所选事项一并办理，本事项的台账记为“已合并”，已排的议程会撤下。此操作会记入审计。',
  split_pick: '选择要拆出的报事（至少留一条在原事项）', split_confirm: '确认拆分？所选报事将另立一件新事项并重新分级，原事项保留其余报事。此操作会记入审计。',
  merge_reason: '合并理由（必填）', split_reason: '拆分理由（必填）', confirm: '确认', merged_done: '已合并', split_done: '已拆分为新事项',
  no_merge_target: '本社区暂无可合并的其他事项', act_merge: '合并', act_split: '拆分',
  visits: '敲响邻里门', campaign: '走访活动', new_campaign: '新建本月走访', campaign_name: '活动名称', coverage: '走访覆盖',
  households: '户数', visited: '已走访', rate: '覆盖率', doors: '已走访户', visitor: '走访人', role: '身份', visit_count: '走访次数',
  reports_raised: '反映问题', grid: '网格', campaign_months: '活动月份', page_size: '每页条数', table: '表格（可左右滚动）',
  agenda_changes: '议程调整记录', move_up: '上移', move_down: '下移', remove_topic: '撤下', pin: '定为本月议题',
  unpin: '取消本月议题', pinned: '本月议题', add_topic: '增加议题', remove_reason: '请填写撤下理由', agenda_set: '议程已由党委确定',
  agenda_proposed: '议程为自动提议，可调整', departments_present: '列席职能部门', concerned: '当事人', concerned_label: '当事人（如一楼门市业主）',
  people: '人数', commitments: '承诺事项', commitment_text: '承诺内容', owner: '承诺方', due: '期限', add_row: '添加', kept: '已兑现',
  broken: '未兑现', check_note: '请填写核验情况', act_commit: '承诺', act_commit_check: '承诺核验',
  first_action_due: '首次响应时限', first_action_at: '首次响应', not_yet: '尚未响应', supervised: '督办',
  supervised_hint: '两轮评价不满意，社区党组织督办', red_alert: '红色警报', paged: '已呼叫', times: '次',
  ack: '确认接警', acked: '已确认接警', notices_sent: '通知记录', recipient: '接收人', time: '时间',
  act_page: '呼叫', act_ack: '确认接警', act_escalate_alert: '升级呼叫', act_remind: '提醒', act_note: '记录',
  act_regrade: '重新定级', act_overdue: '超期', act_register: '登记', act_resolve: '重新议定', act_claim: '认领',
  act_progress: '进展', act_support_add: '配合单位', act_commit_add: '承诺',
  act_other: '办理记录',
  ack_title: '红色警报 · 确认接警', ack_hint: '确认后将停止继续呼叫，并记入办理记录。请立即到场处置。',
  ack_done: '已确认接警，谢谢！请尽快到场处置。', first_response_due: '首次响应时限',
  app: '五方议事厅 · 工作台', resident_app: '五方议事厅 · 居民服务', login: '登录', logout: '退出',
  role: '角色', community: '社区', all_communities: '全县', name: '姓名', unit: '单位', dev_login: '开发登录',
  dev_login_hint: '开发/测试环境：用内置签发方生成令牌。生产环境通过统一身份认证登录。',
  idp_login: '前往统一身份认证登录', inbox: '报事收件箱', triage: '分级看板', review: '待复核', sessions: '议事会',
  ledger: '台账', revisits: '回访评价', dashboard: '数据看板', disclosures: '月度公示', refresh: '刷新',
  workcal: '节假日', year: '年份', workcal_source: '来源', workcal_holidays: '放假日期', workcal_workdays: '调休上班',
  workcal_notice: '依据（通知标题、文号）', workcal_enter: '录入', workcal_covered: '未来90天的放假调休安排均已覆盖',
  workcal_hint: '请按国务院办公厅发布的当年部分节假日安排通知逐日录入，不得估计。',
  reasons: '分级理由', regrade: '改判', level: '等级', route: '办理方式',
  category: '类别', reason: '理由', submit: '提交', cancel: '取消', households: '涉及户数', reporters: '报事人数',
  status: '状态', text: '内容', channel: '渠道', tracking_code: '查询码', received_at: '收到时间', place: '地点',
  compound: '小区', building: '楼栋', kind: '类型', starts_at: '时间', agenda: '议程', attendance: '出席',
  minutes: '会议纪要', conclude: '结束议事并记录结果', outcome: '议定结果', measures: '具体举措',
  lead_party: '牵头方', lead_unit: '责任单位', deadline: '办结时限', department: '职能部门', notes: '备注',
  detail: '详情', timeline: '办理记录', note: '说明', actions: '操作', state: '台账状态', overdue: '已超期',
  only_overdue: '只看超期', title: '事项', due_at: '应回访时间', evaluate: '录入评价', household: '住户',
  rating: '满意度', solved: '解决情况', is_reporter: '原报事人', comment: '意见', method: '评价方式',
  completion_rate: '办结率', on_time_rate: '按时办结率', satisfaction_rate: '满意度', reopen_rate: '重办率',
  entries: '台账总数', backlog: '未办结（按等级）', trend: '按月趋势', by_category: '类别分布',
  by_community: '各社区办结率', drill_hint: '点击柱形查看该社区', back_to_county: '返回全县',
  live: '实时', new_event: '新动态', empty: '暂无数据', saved: '已保存', names_hint: '出席人员（逗号分隔）',
  no_perm: '当前角色无此权限', print: '打印', export: '导出', total: '共', direct: '直接办理', deliberate: '上会议事',
  needs_review: '待复核', confidence: '置信度', open_matters: '办理中的事项', lang_switch: 'English',
  select: '请选择', required: '必填', party_org: '社区党组织', owners_committee: '业主委员会',
  property_company: '物业服务企业', resident_rep: '居民代表', partner_unit: '结对共建单位', grid_worker: '网格员',
  department_role: '职能部门', county_operator: '县级管理员', claim: '认领', start: '开始办理',
  progress: '更新进度', escalate: '转办', return: '部门退回', complete: '办结', close: '销号',
  resolved: '解决', site_inspection: '现场勘察', deferred: '暂缓', not_actionable: '不予受理', escalate_o: '转办部门',
  satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意', partly: '部分解决',
  unsolved: '未解决', solved_v: '已解决', home_visit: '上门回访', questionnaire: '调查问卷',
  wechat_vote: '微信投票', group_forum: '集中座谈', report_problem: '我要报事', track: '查询进度',
  report_desc: '问题描述', photo_ref: '照片（链接或编号）', contact_name: '联系人（选填）',
  contact_phone: '联系电话（选填）', consent: '同意社区就此事联系我', callback_consent: '同意社区工作人员回电联系我', callback: '回电', callback_reason: '回电事由', reason_callback: '回访', reason_verify: '核实', reveal_hidden: '号码已隐藏', reveal_hint: '仅限本次回电使用，到期自动隐藏，每次查看均记入审计。', your_code: '您的查询码',
  code_hint: '请保存查询码，可随时查询办理进度。', query: '查询', expected_at: '预计办结', responsible: '责任方',
  updated_at: '更新时间', evaluate_matter: '评价办理结果', link_invalid: '链接无效或已使用', thanks: '感谢您的评价',
  home_intro: '有事找议事厅：小事不出小区，大事不出社区。', back: '返回', month: '月份',
  evidence_photo: '回访照片链接', evidence_signature: '签名编号', links: '问卷链接', issue_links: '生成问卷链接',
  households_hint: '住户地址，每行一户，如 金泰和庄3-1-101', link_for: '住户', preview: '预览', publish: '发布本月公示',
  choose_community: '请先在顶部选择一个社区', matter_no: '事项编号', no_actions: '当前状态无可执行操作', measures_done: '办理措施', expires_at: '有效期至',
  add_support: "增加配合单位",
  all: "全部",
  attendance_hint: "请勾选实际到会人员（未预先勾选）。",
  auto_place: "默认：事项所在楼栋现场",
  auto_time: "默认：按规则安排",
  breadcrumb: "位置",
  cancel_session: "取消议事会",
  cancel_session_hint: "取消后议程事项退回待议队列，并通知参会各方。请填写取消理由：",
  choose_outcome: "请选择议定结果",
  choose_unit: "请从名录中选择单位",
  confirm_conclude: "结束议事后，决议将交办各责任单位并记入台账，不能撤回。确认结束？",
  confirm_complete: "办结后将进入回访评价，不能撤回。确认办结？",
  confirm_close: "销号后该事项在台账中归档，不能撤回。确认销号？",
  confirm_grade: "确认原分级",
  confirm_note: "复核说明（选填）",
  confirmed: "复核确认",
  date_range: "日期",
  deadline_status: "时限",
  decisions: "议事决议",
  due_on: "应回访日期",
  end_date: "结束日期",
  export_xlsx: "导出Excel",
  graded: "已分级",
  graded_on: "分级日期",
  grading: "分级",
  home: "工作台",
  inbox_keyword: "报事内容或查询码",
  keyword: "关键词",
  ledger_keyword: "事项、措施或责任单位",
  matter_keyword: "事项标题",
  new_site_inspection: "安排现场勘察",
  received: "收到报事",
  received_on: "收到日期",
  registered_on: "登记日期",
  regraded: "人工改判",
  reporter: "报事人",
  reschedule: "改期",
  reset: "重置",
  revisit_keyword: "办理措施",
  round: "评价轮次",
  search: "搜索",
  session_keyword: "地点",
  session_on: "议事日期",
  start_date: "开始日期",
  supporting_units: "配合单位",
  unit_suffix: "单元",
  entry: "报事录入",
  entry_box: "意见箱/心愿墙",
  entry_hotline: "12345工单",
  entry_visits: "入户走访导入",
  box_hint: "如 金泰和庄东门意见箱",
  on_behalf_of: "署名（选填，仅存脱敏）",
  hotline_deadline: "承办时限",
  hotline_consent: "来电人同意社区回电",
  visits_import_hint: "上传走访台账（CSV 或 Excel，最多 2000 行）。每行单独校验：合格的行生成报事，不合格的行列出原因；重复上传不会重复登记。",
  upload: "上传",
  import_summary: "共 {rows} 行：受理 {accepted} 行（新登记 {created} 行），退回 {rejected} 行",
  row_no: "行号",
  import_new: "新登记",
  import_known: "已登记过",
  votes: "业主表决",
  vote_keyword: "表决事项",
  new_vote: "发起业主表决",
  vote_scope: "表决范围",
  turnout: "参与户数",
  opened_at: "发起时间",
  area: "专有面积",
  conclusion: "表决结论",
  record_ballot: "录入表决票",
  close_vote: "结束表决并计票",
  confirm_close_vote: "计票后表决结束，不能再投票。确认计票？",
  vote_scope_hint: "选择小区（及楼栋）：按名录中该范围的业主计算参与和同意比例。",
  confirm_publish: "公示发布后将在社区公示栏公开（{where}，{month}），不能撤回。确认发布？",
  version_n: "第{n}版",
  foresight: "未诉先办",
  foresight_intro: "从历年报事中找出反复出现或季节性出现的问题，建议在居民再次反映之前列为议题，先行排查处置。",
  foresight_run: "立即排查",
  foresight_run_done: "已排查下月可能反复出现的问题：共 {n} 条建议",
  foresight_month: "建议月份",
  foresight_evidence: "依据",
  foresight_count: "历次反映",
  foresight_season: "季节",
  foresight_accept: "列为议题",
  foresight_dismiss: "不列入",
  foresight_accept_hint: "列为议题后，该问题作为本月议题排入所属议事厅的下一个固定议事日，并记入台账。说明（选填）：",
  foresight_dismiss_hint: "请填写不列入的理由（必填）：",
  foresight_accepted: "已列为议题，将排入下一个固定议事日",
  foresight_dismissed: "已记录：不列入",
  decided_by: "处理人",
  decided_at: "处理时间",
  halls: "议事厅",
  hall_intro: "社区五方议事厅及各小区议事会：五方成员、法定到会方、固定议事日。小事不出小区，大事不出社区。",
  hall_place: "议事地点",
  fixed_day: "固定议事日",
  next_fixed_days: "最近的固定议事日",
  topics_per_session: "每次议题数",
  quorum: "法定到会方",
  emergency_within: "红色事项召集时限",
  hours_n: "{n} 小时内",
  hall_parties: "五方成员",
  hall_departments: "可邀请的职能部门",
  hall_categories: "负责事项类别",
  compound_halls: "小区议事会",
  no_compound_halls: "本社区各小区未设小区议事会，所有事项由社区议事厅议事。",
  max_households: "涉及户数上限",
  members: "成员",
  hall_party: "所属方",
  no_members: "暂无成员",
  member_role: "职务",
  tier: "议事层级",
  tier_hall: "议事厅",
  tier_rule: "按规则",
  tier_override: "工作人员指定",
  tier_changes: "层级调整记录",
  tier_move: "调整议事层级",
  tier_to: "改由",
  tier_to_community: "交社区议事厅议事",
  tier_to_compound: "交小区议事会议事",
  tier_to_auto: "恢复按规则",
  tier_reason: "调整理由（必填）",
  tier_moved: "已调整议事层级",
  tier_not_deliberated: "该事项不上会议事（直接办理），无议事层级。",
  on_agenda: "已列入议程",
}

const en = {
  merge: 'Merge', split: 'Split', merge_into: 'Merge into', merge_pick: 'An open matter of the same community',
  merge_confirm: "Merge? This matter's reports join the chosen matter; its ledger entry is closed as merged and it leaves any agenda. This is audited.",
  split_pick: 'Reports to split off (at least one stays)', split_confirm: 'Split? The chosen reports become a new matter, graded anew; the rest stay. This is audited.',
  merge_reason: 'Why merge (required)', split_reason: 'Why split (required)', confirm: 'Confirm', merged_done: 'Merged', split_done: 'Split into a new matter',
  no_merge_target: 'No other open matter in this community', act_merge: 'Merged', act_split: 'Split',
  visits: 'Door-knocking', campaign: 'Campaign', new_campaign: "New campaign this month", campaign_name: 'Campaign name', coverage: 'Coverage',
  households: 'Households', visited: 'Visited', rate: 'Coverage', doors: 'Doors visited', visitor: 'Visitor', role: 'Role', visit_count: 'Visits',
  reports_raised: 'Reports', grid: 'Grid', campaign_months: 'Campaign months', page_size: 'Rows per page', table: 'Table (scrolls sideways)',
  agenda_changes: 'Agenda changes', move_up: 'Up', move_down: 'Down', remove_topic: 'Remove', pin: "Make this month's topic",
  unpin: 'Unpin', pinned: "This month's topic", add_topic: 'Add topic', remove_reason: 'Why is it removed?', agenda_set: 'Agenda set by the convenor',
  agenda_proposed: 'Agenda proposed automatically; you may change it', departments_present: 'Departments present', concerned: 'Parties concerned',
  concerned_label: 'Parties concerned (e.g. ground-floor shop owners)', people: 'People', commitments: 'Commitments',
  commitment_text: 'Promise', owner: 'Promised by', due: 'Due', add_row: 'Add', kept: 'Kept', broken: 'Broken',
  check_note: 'What was seen?', act_commit: 'Promise', act_commit_check: 'Promise checked',
  first_action_due: 'First response due', first_action_at: 'First response', not_yet: 'Not yet', supervised: 'Supervised',
  supervised_hint: 'Unsatisfied twice: supervised by the party organisation', red_alert: 'Red alert', paged: 'Paged', times: 'times',
  ack: 'Acknowledge', acked: 'Acknowledged', notices_sent: 'Notices sent', recipient: 'To', time: 'Time',
  act_page: 'Paged', act_ack: 'Acknowledged', act_escalate_alert: 'Escalated page', act_remind: 'Reminder', act_note: 'Note',
  act_regrade: 'Regraded', act_overdue: 'Overdue', act_register: 'Registered', act_resolve: 'Re-resolved', act_claim: 'Claimed',
  act_progress: 'Progress', act_support_add: 'Supporting unit', act_commit_add: 'Promise',
  act_other: 'Record',
  ack_title: 'Red alert · acknowledge', ack_hint: 'Acknowledging stops further paging and is recorded on the timeline. Go to the site now.',
  ack_done: 'Acknowledged, thank you. Please go to the site now.', first_response_due: 'First response due',
  app: 'Deliberation Hall · Console', resident_app: 'Deliberation Hall · Residents', login: 'Log in', logout: 'Log out',
  role: 'Role', community: 'Community', all_communities: 'Whole county', name: 'Name', unit: 'Unit',
  dev_login: 'Dev login', dev_login_hint: 'Development/test: tokens from the built-in issuer. Production uses the identity provider.',
  idp_login: 'Log in with the identity provider', inbox: 'Report inbox', triage: 'Triage board', review: 'Review queue',
  sessions: 'Sessions', ledger: 'Ledger', revisits: 'Revisits', dashboard: 'Dashboard',
  disclosures: 'Monthly disclosure', refresh: 'Refresh',
  workcal: 'Holidays', year: 'Year', workcal_source: 'Source', workcal_holidays: 'Days off', workcal_workdays: 'Weekend workdays (调休)',
  workcal_notice: 'Notice (title, number)', workcal_enter: 'Enter', workcal_covered: 'The next 90 days are covered by the official arrangement',
  workcal_hint: 'Enter each day from the State Council notice for the year; never estimate.',
  reasons: 'Reasons', regrade: 'Regrade', level: 'Level', route: 'Route', category: 'Category', reason: 'Reason',
  submit: 'Submit', cancel: 'Cancel', households: 'Households', reporters: 'Reporters', status: 'Status',
  text: 'Text', channel: 'Channel', tracking_code: 'Tracking code', received_at: 'Received', place: 'Place',
  compound: 'Compound', building: 'Building', kind: 'Kind', starts_at: 'Time', agenda: 'Agenda',
  attendance: 'Attendance', minutes: 'Minutes', conclude: 'Conclude and record', outcome: 'Outcome',
  measures: 'Measures', lead_party: 'Lead party', lead_unit: 'Responsible unit', deadline: 'Deadline',
  department: 'Department', notes: 'Notes', detail: 'Detail', timeline: 'Timeline', note: 'Note',
  actions: 'Actions', state: 'State', overdue: 'Overdue', only_overdue: 'Overdue only', title: 'Matter',
  due_at: 'Due', evaluate: 'Record evaluation', household: 'Household', rating: 'Rating', solved: 'Solved',
  is_reporter: 'Original reporter', comment: 'Comment', method: 'Method', completion_rate: 'Completion rate',
  on_time_rate: 'On-time rate', satisfaction_rate: 'Satisfaction', reopen_rate: 'Reopen rate', entries: 'Entries',
  backlog: 'Backlog by level', trend: 'Trend by month', by_category: 'By category',
  by_community: 'Completion by community', drill_hint: 'Click a bar to drill down', back_to_county: 'Back to county',
  live: 'Live', new_event: 'New activity', empty: 'No data', saved: 'Saved', names_hint: 'Attendees (comma separated)',
  no_perm: 'Not allowed for this role', print: 'Print', export: 'Export', total: 'Total', direct: 'Fix at once',
  deliberate: 'Deliberate', needs_review: 'Needs review', confidence: 'Confidence', open_matters: 'Open matters',
  lang_switch: '中文', select: 'Select', required: 'Required', party_org: 'Party organisation',
  owners_committee: "Owners' committee", property_company: 'Property company', resident_rep: 'Resident rep',
  partner_unit: 'Partner unit', grid_worker: 'Grid worker', department_role: 'Department',
  county_operator: 'County operator', claim: 'Claim', start: 'Start', progress: 'Update progress',
  escalate: 'Escalate', return: 'Returned', complete: 'Complete', close: 'Cross off', resolved: 'Resolved',
  site_inspection: 'Site inspection', deferred: 'Deferred', not_actionable: 'Not actionable',
  escalate_o: 'Escalate', satisfied: 'Satisfied', basically_satisfied: 'Basically satisfied',
  unsatisfied: 'Unsatisfied', partly: 'Partly', unsolved: 'Unsolved', solved_v: 'Solved', home_visit: 'Home visit',
  questionnaire: 'Questionnaire', wechat_vote: 'WeChat vote', group_forum: 'Group forum',
  report_problem: 'Report a problem', track: 'Track progress', report_desc: 'Describe the problem',
  photo_ref: 'Photo (link or reference)', contact_name: 'Contact name (optional)',
  contact_phone: 'Phone (optional)', consent: 'The community may contact me', callback_consent: 'Community staff may call me back', callback: 'Call back', callback_reason: 'Reason', reason_callback: 'Follow-up call', reason_verify: 'Verify', reveal_hidden: 'Number hidden', reveal_hint: 'For this call only; hidden when it expires; every view is audited.', your_code: 'Your tracking code',
  code_hint: 'Keep the code to check progress any time.', query: 'Look up', expected_at: 'Expected',
  responsible: 'Responsible', updated_at: 'Updated', evaluate_matter: 'Rate the result',
  link_invalid: 'Link invalid or used', thanks: 'Thank you for your rating',
  home_intro: 'Small matters stay in the compound, big matters in the community.', back: 'Back', month: 'Month',
  evidence_photo: 'Visit photo URL', evidence_signature: 'Signature reference', links: 'Questionnaire links',
  issue_links: 'Issue questionnaire links', households_hint: 'Household addresses, one per line',
  link_for: 'Household', preview: 'Preview', publish: "Publish this month", choose_community: 'Choose a community at the top first',
  measures_done: 'What was done', expires_at: 'Valid until', matter_no: 'Matter no.', no_actions: 'No action possible in this state',
  add_support: "Add supporting unit",
  all: "All",
  attendance_hint: "Tick who actually attended (nobody is ticked in advance).",
  auto_place: "Default: on site at the building",
  auto_time: "Default: by the rule",
  breadcrumb: "Breadcrumb",
  cancel_session: "Cancel session",
  cancel_session_hint: "The agenda goes back to the queue and attendees are told. Why is it cancelled?",
  choose_outcome: "choose an outcome",
  choose_unit: "Pick a unit from the directory",
  confirm_conclude: "The decisions go to the responsible units and the ledger; this cannot be undone. Conclude?",
  confirm_complete: "Completion starts the revisit and cannot be undone. Complete?",
  confirm_close: "Crossing off files the matter for good. Cross off?",
  confirm_grade: "Confirm grade",
  confirm_note: "Note (optional)",
  confirmed: "Grade confirmed",
  date_range: "Dates",
  deadline_status: "Deadline",
  decisions: "Decisions",
  due_on: "Due on",
  end_date: "End date",
  export_xlsx: "Export Excel",
  graded: "Graded",
  graded_on: "Graded on",
  grading: "Grading",
  home: "Console",
  inbox_keyword: "Text or tracking code",
  keyword: "Keyword",
  ledger_keyword: "Matter, measures or unit",
  matter_keyword: "Matter title",
  new_site_inspection: "Schedule site inspection",
  received: "Report received",
  received_on: "Received on",
  registered_on: "Registered on",
  regraded: "Regraded",
  reporter: "Reporter",
  reschedule: "Reschedule",
  reset: "Reset",
  revisit_keyword: "What was done",
  round: "Round",
  search: "Search",
  session_keyword: "Place",
  session_on: "Session date",
  start_date: "Start date",
  supporting_units: "Supporting units",
  unit_suffix: " (unit)",
  entry: "Enter reports",
  entry_box: "Opinion box / wish wall",
  entry_hotline: "12345 orders",
  entry_visits: "Door-visit import",
  box_hint: "e.g. east gate opinion box",
  on_behalf_of: "Signed by (optional, stored masked)",
  hotline_deadline: "Hotline deadline",
  hotline_consent: "Caller agrees to a call back",
  visits_import_hint: "Upload a visit sheet (CSV or Excel, at most 2000 rows). Each row is checked alone: good rows become reports, bad rows are listed with reasons; re-uploads add nothing.",
  upload: "Upload",
  import_summary: "{rows} rows: {accepted} accepted ({created} new), {rejected} returned",
  row_no: "Row",
  import_new: "New",
  import_known: "Already known",
  votes: "Owners' votes",
  vote_keyword: "Question",
  new_vote: "Open an owners' vote",
  vote_scope: "Scope",
  turnout: "Voted",
  opened_at: "Opened",
  area: "Area",
  conclusion: "Conclusion",
  record_ballot: "Record a ballot",
  close_vote: "Close and count",
  confirm_close_vote: "Counting ends the vote; no more ballots. Count now?",
  vote_scope_hint: "Pick the compound (and building): shares are counted over its owners in the directory.",
  confirm_publish: "The notice goes on the public board ({where}, {month}) and cannot be taken back. Publish?",
  version_n: "version {n}",
  foresight: "Before residents ask",
  foresight_intro: "Problems that came back in past years, or come with the season, proposed as topics before residents report them again.",
  foresight_run: "Look now",
  foresight_run_done: "Looked for next month's recurring problems: {n} proposals",
  foresight_month: "For month",
  foresight_evidence: "Evidence",
  foresight_count: "Past reports",
  foresight_season: "Season",
  foresight_accept: "Make it a topic",
  foresight_dismiss: "Do not take up",
  foresight_accept_hint: "The problem becomes a topic of this month on its hall's next fixed day and enters the ledger. Note (optional):",
  foresight_dismiss_hint: "Why is it not taken up? (required)",
  foresight_accepted: "Made a topic: it goes on the next fixed day",
  foresight_dismissed: "Recorded: not taken up",
  decided_by: "Decided by",
  decided_at: "Decided at",
  halls: "Halls",
  hall_intro: "The community's five-party hall and the compounds' own meetings: members, quorum, fixed days. Small matters stay in the compound, big ones go to the community.",
  hall_place: "Place",
  fixed_day: "Fixed day",
  next_fixed_days: "Next fixed days",
  topics_per_session: "Topics per session",
  quorum: "Quorum",
  emergency_within: "Red matters convened within",
  hours_n: "{n} hours",
  hall_parties: "The five parties",
  hall_departments: "Departments that may be invited",
  hall_categories: "Matters it takes",
  compound_halls: "Compound meetings",
  no_compound_halls: "No compound of this community has its own meeting; the community hall deliberates every matter.",
  max_households: "Households at most",
  members: "Members",
  hall_party: "Party",
  no_members: "No members yet",
  member_role: "Post",
  tier: "Hall",
  tier_hall: "Deliberated by",
  tier_rule: "By the rule",
  tier_override: "Set by staff",
  tier_changes: "Moves between halls",
  tier_move: "Move to another hall",
  tier_to: "Move to",
  tier_to_community: "The community hall",
  tier_to_compound: "The compound meeting",
  tier_to_auto: "Back to the rule",
  tier_reason: "Reason (required)",
  tier_moved: "Hall changed",
  tier_not_deliberated: "This matter is fixed directly, not deliberated: it has no hall.",
  on_agenda: "On an agenda",
}

const messages = { zh, en }

export function t(key) {
  return messages[lang.value][key] ?? zh[key] ?? key
}

// Every enumerated word comes from one vocabulary (services/contracts/labels.py, generated into labels.js).
export { LABELS }

// A code of a group in words for the current language; an unknown code never shows as itself.
export function word(group, code) {
  const found = LABELS[group]?.[code]
  if (found) return lang.value === 'en' ? found[1] : found[0]
  return code == null || code === '' ? '' : '—'
}

// The words of a whole group, as [{ value, label }] for selects.
export function options(group, only) {
  return Object.keys(LABELS[group] || {})
    .filter((code) => !only || only.includes(code))
    .map((value) => ({ value, label: word(group, value) }))
}

// A sentence the services send twice (`rule_reason` and `rule_reason_en`): the one for the current language.
export function twin(zhText, enText) {
  return lang.value === 'en' && enText ? enText : zhText
}

// A matter's grade reasons in the current language: triage sends `reasons_en` line for line with `reasons`
// (an empty line, or none at all, for matters graded before the English twins: those stay in Chinese).
export function reasonLines(matter) {
  const en = matter?.reasons_en || []
  return (matter?.reasons || []).map((r, i) => twin(r, en[i]))
}

// Labels from the services come as "中文 / English": show the half for the current language.
export function bilingual(label) {
  const [zhPart, enPart] = String(label || '').split(' / ')
  return lang.value === 'en' && enPart ? enPart : zhPart
}

// A report's or an entry's status: the ledger's states and the report's tracking words are one list.
export function statusText(code) {
  return LABELS.ledger_state[code] ? word('ledger_state', code) : LABELS.report_status[code] ? word('report_status', code) : word('revisit_status', code)
}

// A problem+json field path in words: "resolutions[0].measures" -> "处置措施（第1项）".
export function fieldWords(path) {
  const parts = String(path || '').split(/[.[\]]+/).filter(Boolean)
  const names = parts.filter((p) => !/^\d+$/.test(p))
  const index = [...parts].reverse().find((p) => /^\d+$/.test(p))
  const leaf = [...names].reverse().find((n) => LABELS.field[n]) || 'body'
  const text = word('field', leaf)
  if (index === undefined) return text
  return lang.value === 'en' ? `${text} (item ${Number(index) + 1})` : `${text}（第${Number(index) + 1}项）`
}

// Who did something, in words: people by name, the services' own steps as what they are, never an id.
export function actorText(actor, name) {
  if (name) return name
  const value = String(actor || '')
  if (!value) return ''
  const [kind] = value.split(':')
  const words = {
    session: ['议事会决议', 'Session decision'], system: ['系统', 'System'], ledger: ['系统', 'System'],
    triage: ['自动分级', 'Automatic grading'], feedback: ['回访评价', 'Evaluation'], meeting: ['议事会', 'Session'],
    intake: ['报事受理', 'Intake'], resident: ['居民', 'Resident'], link: ['居民（问卷链接）', 'Resident (link)'],
  }
  if (value.includes(':') && words[kind]) return lang.value === 'en' ? words[kind][1] : words[kind][0]
  if (words[value]) return lang.value === 'en' ? words[value][1] : words[value][0]
  const role = Object.keys(LABELS.role).find((r) => value.includes(r))
  if (role) return word('role', role)
  if (/^(mat|ses|hh|ent|rpt|rev|u|apikey|key)[_-]/.test(value) || /^[a-z0-9]+([_:-][a-z0-9]+)+$/.test(value)) {
    return lang.value === 'en' ? 'Staff' : '工作人员'
  }
  return value
}

// A live hint in words: what happened and where (an event name or a community code is never shown).
export function hintText(hint) {
  const what = word('event', LABELS.event[hint?.type] ? hint.type : 'other')
  const where = dir.communities.find((c) => c.code === hint?.community)?.name
  return where ? `${what} · ${where}` : what
}
