// Words of the dashboard, the shell and the residents' photo and tracking pages (Chinese first, English on switch).
// Kept apart from i18n.js so that these pages' words can be reviewed together; same `lang` switch.
import { lang } from './i18n.js'

const zh = {
  no_data: '暂无数据', open_backlog: '在办', overdue_open: '超期未办结', kpi_entries: '台账总数',
  figures_table: '各社区指标', community_name: '社区', menu: '菜单', close_menu: '关闭菜单', skip_to_main: '跳到正文',
  figures_note: '数字由台账服务按全部数据统计；没有台账的社区显示"暂无数据"。',
  photo: '照片', add_photo: '拍照或选择照片', photo_hint: '最多 3 张，每张不超过 5 MB（JPEG、PNG、WebP）',
  photo_uploading: '正在上传…', photo_failed: '照片上传失败', remove_photo: '删除照片',
  steps: '办理进度', summary: '反映内容', responsible_unit: '责任单位', expected_date: '预计办结',
  copy_code: '复制查询码', copied: '已复制', copy_failed: '复制失败，请手动记下', my_codes: '本机提交过的查询码',
  clear_codes: '清除记录', no_codes: '本机还没有提交过报事', submitted_on: '提交于',
  choose: '请选择', pick_community: '选择社区', pick_compound: '选择小区', pick_building: '选择楼栋', cancel: '取消',
  photo_n: '照片', photo_loading: '照片加载中…', photo_missing: '照片无法显示', photo_link: '外部照片链接',
}
const en = {
  no_data: 'No data', open_backlog: 'Open', overdue_open: 'Overdue, open', kpi_entries: 'Entries',
  figures_table: 'Figures by community', community_name: 'Community', menu: 'Menu', close_menu: 'Close menu',
  skip_to_main: 'Skip to content',
  figures_note: 'Figures are counted by the ledger over all entries; a community without entries shows "No data".',
  photo: 'Photos', add_photo: 'Take or choose a photo', photo_hint: 'Up to 3, at most 5 MB each (JPEG, PNG, WebP)',
  photo_uploading: 'Uploading…', photo_failed: 'Photo upload failed', remove_photo: 'Remove photo',
  steps: 'Progress', summary: 'What was reported', responsible_unit: 'Responsible unit', expected_date: 'Expected by',
  copy_code: 'Copy code', copied: 'Copied', copy_failed: 'Could not copy; please note it down', my_codes: 'Codes sent from this phone',
  clear_codes: 'Clear list', no_codes: 'No reports sent from this phone yet', submitted_on: 'Sent',
  choose: 'Choose', pick_community: 'Choose a community', pick_compound: 'Choose a compound', pick_building: 'Choose a building', cancel: 'Cancel',
  photo_n: 'Photo', photo_loading: 'Loading photos…', photo_missing: 'Photo cannot be shown', photo_link: 'External photo link',
}

export function w(key) {
  return (lang.value === 'en' ? en : zh)[key] ?? key
}
