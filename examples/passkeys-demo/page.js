// The passkeys page of the example server (index.html beside it): plain browser JavaScript, no build step.
// @simplewebauthn/browser comes from the server's own node_modules (never a CDN). The tokens stay in this page's
// memory: reloading the page logs out of it.
import {
  browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration
} from './simplewebauthn/index.js'

const AUTH = '/auth' // the plugin's routes prefix
const $ = (id) => document.getElementById(id)

let accessToken = null
let captchaId = null
let mfaToken = null
let shownPasskeys = []

function show (message, error = false) {
  $('status').textContent = message
  $('status').className = error ? 'error' : ''
}

/** A JSON call to the server; rejects with the server's code and message on an error answer. */
async function call (method, path, body) {
  const headers = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (accessToken !== null) headers.authorization = `Bearer ${accessToken}`
  const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await reply.text()
  const json = text === '' ? null : JSON.parse(text)
  if (!reply.ok) throw new Error(`${method} ${path}: ${reply.status} ${json?.code ?? ''} ${json?.message ?? ''}`)
  return json
}

/** The claims of the access token, to show which proofs this session has (amr): for display, not for trust. */
function claims (token) {
  return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
}

async function loadCaptcha () {
  const captcha = await call('GET', `${AUTH}/captcha`)
  captchaId = captcha.captchaId
  $('captcha-image').src = captcha.image
  $('captcha').value = ''
}

function signedOut () {
  accessToken = null
  mfaToken = null
  $('signed-in').hidden = true
  $('second-factor').hidden = true
  $('signed-out').hidden = false
  loadCaptcha().catch((error) => show(error.message, true))
  offerPasskeysInAutofill()
}

async function signedIn (pair) {
  accessToken = pair.access_token
  mfaToken = null
  const me = await call('GET', `${AUTH}/me`)
  $('who').textContent = me.username
  $('amr').textContent = (claims(accessToken).amr ?? []).join(', ')
  $('profile-status').textContent = ''
  $('signed-out').hidden = true
  $('second-factor').hidden = true
  $('signed-in').hidden = false
  await listPasskeys()
  show(`Signed in as ${me.username} (amr: ${$('amr').textContent})`)
}

async function listPasskeys () {
  showPasskeys((await call('GET', `${AUTH}/passkeys`)).passkeys)
}

function showPasskeys (passkeys) {
  shownPasskeys = passkeys
  const list = $('passkeys')
  list.replaceChildren()
  for (const passkey of passkeys) {
    const item = document.createElement('li')
    const used = passkey.lastUsedAt ? `, last used ${new Date(passkey.lastUsedAt).toLocaleString()}` : ''
    item.textContent = `${passkey.name} (added ${new Date(passkey.createdAt).toLocaleString()}${used}) `
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.textContent = 'remove'
    remove.addEventListener('click', () => act(async () => {
      await call('DELETE', `${AUTH}/passkeys/${encodeURIComponent(passkey.id)}`)
      showPasskeys(shownPasskeys.filter((shown) => shown.id !== passkey.id))
      show(`Passkey "${passkey.name}" removed`)
    }))
    item.append(remove)
    list.append(item)
  }
  if (passkeys.length === 0) list.textContent = 'none yet'
}

/** Runs a button's work, showing its failure (a refused ceremony, a 4xx) instead of throwing it away. */
function act (work) {
  work().catch((error) => show(error.message, true))
}

async function passwordLogin (event) {
  event.preventDefault()
  const answer = await call('POST', `${AUTH}/login`, {
    username: $('username').value, password: $('password').value, captchaId, captcha: $('captcha').value
  })
  $('password').value = ''
  if (answer.mfa_required !== true) return signedIn(answer)
  mfaToken = answer.mfa_token
  if (!answer.methods.includes('passkey')) {
    throw new Error(`this account's second factor is ${answer.methods.join(' or ')}: this page handles passkeys only`)
  }
  $('signed-out').hidden = true
  $('second-factor').hidden = false
  show('Password accepted: now the passkey')
}

/** Passwordless: the authenticator picks one of this site's passkeys (discoverable), no username asked. */
async function passkeyLogin () {
  const optionsJSON = await call('POST', `${AUTH}/passkeys/login/options`, {})
  const response = await startAuthentication({ optionsJSON })
  await signedIn(await call('POST', `${AUTH}/passkeys/login/verify`, { response }))
}

/** The second step of a password login, with one of the user's passkeys (its TOTP would do too). */
async function secondFactor () {
  const optionsJSON = await call('POST', `${AUTH}/mfa/passkey/options`, { mfa_token: mfaToken })
  const response = await startAuthentication({ optionsJSON })
  await signedIn(await call('POST', `${AUTH}/mfa/verify`, { mfa_token: mfaToken, passkey: response }))
}

/**
 * Conditional UI: the username field's autofill lists this site's passkeys; picking one signs in. Pending until
 * then; any other ceremony of the page (a button) cancels it.
 */
function offerPasskeysInAutofill () {
  browserSupportsWebAuthnAutofill().then(async (supported) => {
    if (!supported) return
    const optionsJSON = await call('POST', `${AUTH}/passkeys/login/options`, {})
    const response = await startAuthentication({ optionsJSON, useBrowserAutofill: true })
    await signedIn(await call('POST', `${AUTH}/passkeys/login/verify`, { response }))
  }).catch((error) => {
    if (error.name !== 'AbortError') show(error.message, true)
  })
}

async function registerPasskey () {
  const optionsJSON = await call('POST', `${AUTH}/passkeys/register/options`, {})
  const response = await startRegistration({ optionsJSON })
  const name = $('passkey-name').value.trim()
  const passkey = await call('POST', `${AUTH}/passkeys/register/verify`, name === '' ? { response } : { response, name })
  $('passkey-name').value = ''
  // The list as shown, plus the new one: no second call (the account routes are rate-limited per client).
  shownPasskeys.push(passkey)
  showPasskeys(shownPasskeys)
  show(`Passkey "${passkey.name}" added`)
}

async function callProfile () {
  const reply = await fetch('/api/profile', { headers: { authorization: `Bearer ${accessToken}` } })
  $('profile-status').textContent = `${reply.status}`
  show(`GET /api/profile: ${reply.status}`)
}

async function logout () {
  await call('POST', `${AUTH}/logout`)
  signedOut()
  show('Logged out')
}

$('login-form').addEventListener('submit', (event) => act(() => passwordLogin(event)))
$('new-captcha').addEventListener('click', () => act(loadCaptcha))
$('passkey-login').addEventListener('click', () => act(passkeyLogin))
$('mfa-passkey').addEventListener('click', () => act(secondFactor))
$('register-passkey').addEventListener('click', () => act(registerPasskey))
$('call-profile').addEventListener('click', () => act(callProfile))
$('logout').addEventListener('click', () => act(logout))

signedOut()
show(browserSupportsWebAuthn() ? 'Ready' : 'This browser has no WebAuthn (or this is not a secure context)', !browserSupportsWebAuthn())
