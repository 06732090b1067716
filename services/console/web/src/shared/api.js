// Calls go to the console, which forwards them with the user's own token; errors are problem+json.
import { reactive } from 'vue'
import { fieldWords, lang } from './i18n.js'

const saved = sessionStorage.getItem('hall.session')
export const session = reactive(saved ? JSON.parse(saved) : { token: null })

export function setSession(value) {
  Object.assign(session, { token: null, role: null, communities: [], name: null, sub: null }, value || {})
  if (value) sessionStorage.setItem('hall.session', JSON.stringify(value))
  else sessionStorage.removeItem('hall.session')
}

// A problem in words: each field error as "<field in words>：<why>", never a field path or an HTTP code.
export function problemText(status, problem) {
  const en = lang.value === 'en'
  const errors = Array.isArray(problem?.errors) ? problem.errors : []
  if (errors.length) {
    const lines = errors.slice(0, 3).map((e) => {
      const why = (en ? e.message_en : e.message) || e.message || ''
      return `${fieldWords(e.field)}${en ? ': ' : '：'}${why.replace(/^[\w.[\]]+[：:]\s*/, '')}`
    })
    return lines.join(en ? '; ' : '；')
  }
  const text = en ? problem?.detail_en || problem?.title_en : problem?.detail || problem?.title
  if (text) return text
  if (status === 0) return en ? 'Network unavailable, please retry' : '网络不可用，请重试'
  return en ? 'The request failed, please retry' : '操作未成功，请重试'
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem))
    this.status = status
    this.problem = problem
  }
}

export async function request(url, { method = 'GET', body, params, auth = true, blob = false, headers: extra = {} } = {}) {
  const query = params
    ? '?' + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString()
    : ''
  const headers = { Accept: 'application/json', ...extra }
  const form = typeof FormData !== 'undefined' && body instanceof FormData
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json'
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`
  let res
  try {
    res = await fetch(url + query, { method, headers, body: body === undefined ? undefined : form ? body : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, null)
  }
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

// The county directory (names of communities, compounds, buildings, departments), loaded once per page.
export const dir = reactive({ communities: [], loaded: false })
let directoryPromise = null
export function directory() {
  directoryPromise ??= request('/api/directory', { auth: false }).then((d) => {
    Object.assign(dir, d, { loaded: true })
    return d
  })
  return directoryPromise
}

export function communityName(code) {
  return dir.communities.find((c) => c.code === code)?.name || (dir.loaded ? '' : '')
}

// A place by its directory names: 学苑社区 金泰和庄 8栋 (a code the directory lacks is left out).
export function placeText(community, compound, building, { withCommunity = true } = {}) {
  const c = dir.communities.find((x) => x.code === community)
  const p = c?.compounds.find((x) => x.code === compound || x.name === compound)
  const b = p?.buildings.find((x) => x.code === building || x.name === building)
  return [withCommunity && c?.name, p?.name, b?.name].filter(Boolean).join(' ')
}

// Download an export (XLSX) with the user's token, under the name the page gives it.
export async function download(service, path, params, filename) {
  const blob = await request(`/api/${service}/${path}`, { params: { ...params, lang: lang.value }, blob: true })
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
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
