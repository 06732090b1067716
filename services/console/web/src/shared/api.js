// Calls go to the console, which forwards them with the user's own token; errors are problem+json.
import { reactive } from 'vue'
import { lang } from './i18n.js'

const saved = sessionStorage.getItem('hall.session')
export const session = reactive(saved ? JSON.parse(saved) : { token: null })

export function setSession(value) {
  Object.assign(session, { token: null, role: null, communities: [], name: null, sub: null }, value || {})
  if (value) sessionStorage.setItem('hall.session', JSON.stringify(value))
  else sessionStorage.removeItem('hall.session')
}

export class ApiError extends Error {
  constructor(status, problem) {
    const zh = problem?.detail || problem?.title || `HTTP ${status}`
    const en = problem?.detail_en || problem?.title_en || zh
    super(lang.value === 'en' ? en : zh)
    this.status = status
    this.problem = problem
  }
}

export async function request(url, { method = 'GET', body, params, auth = true, blob = false, headers: extra = {} } = {}) {
  const query = params
    ? '?' + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString()
    : ''
  const headers = { Accept: 'application/json', ...extra }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`
  const res = await fetch(url + query, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const type = res.headers.get('content-type') || ''
  if (blob && res.ok) return res.blob()
  const data = type.includes('json') ? await res.json() : await res.text()
  if (!res.ok) {
    if (res.status === 401 && auth && session.token) setSession(null)
    throw new ApiError(res.status, typeof data === 'object' ? data : null)
  }
  return data
}

export const api = (service, path, options) => request(`/api/${service}/${path}`, options)

let directoryPromise = null
export function directory() {
  directoryPromise ??= request('/api/directory', { auth: false })
  return directoryPromise
}

export function fmtTime(value) {
  if (!value) return ''
  return new Date(value).toLocaleString(lang.value === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  })
}

export function pct(value) {
  return value == null ? '—' : `${(value * 100).toFixed(1)}%`
}

// Months are Beijing months everywhere in the platform (figures, disclosures), whatever the browser's zone.
export function beijingMonth(offset = 0) {
  const [y, m] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' })
    .format(new Date())
    .split('-')
    .map(Number)
  const d = new Date(Date.UTC(y, m - 1 + offset, 1))
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}
