// The tracking codes this phone has submitted, newest first, kept in this browser only (localStorage).
import { ref } from 'vue'

const KEY = 'hall.codes'
const MAX = 20

function load() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]')
    return Array.isArray(list) ? list.filter((x) => x && /^[A-Z0-9]{8}$/.test(x.code)) : []
  } catch {
    return []
  }
}

export const codes = ref(load())

export function remember(code) {
  codes.value = [{ code, at: new Date().toISOString() }, ...codes.value.filter((x) => x.code !== code)].slice(0, MAX)
  localStorage.setItem(KEY, JSON.stringify(codes.value))
}

export function forget() {
  codes.value = []
  localStorage.removeItem(KEY)
}
