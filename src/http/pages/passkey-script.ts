/**
 * The one script file of the hosted pages (served at PASSKEY_SCRIPT_PATH; the pages' CSP
 * allows exactly that URL): passkeys on the sign-in page and the second-factor page.
 * Without JavaScript the pages work as they are (password, code); with it, the hidden
 * passkey form (`#gh-passkey`) appears. The script asks Gatehouse for WebAuthn options
 * (`POST /signin/passkey/options` with the form's CSRF token, and its mfa_token on the
 * second page), runs navigator.credentials.get (on the sign-in page also in conditional
 * mediation, so the browser offers passkeys in the username field's autofill), and
 * submits the assertion through the form: the server answers it like the password form.
 * Texts come from the form's data attributes (the message catalogue), not from here.
 */

export const PASSKEY_SCRIPT_PATH = '/signin/passkey.js';

export const PASSKEY_SCRIPT = `'use strict';
(function () {
  var form = document.getElementById('gh-passkey');
  if (!form || !window.PublicKeyCredential || !navigator.credentials) return;
  var button = document.getElementById('gh-passkey-button');
  var status = document.getElementById('gh-passkey-status');
  var field = function (name) { return form.querySelector('input[name="' + name + '"]'); };
  var toBuf = function (s) {
    var b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  };
  var fromBuf = function (buf) {
    var bytes = new Uint8Array(buf), s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  };
  var say = function (text) {
    status.textContent = text;
    status.hidden = !text;
  };

  function options() {
    var body = { csrf_token: field('csrf_token').value };
    var mfa = field('mfa_token');
    if (mfa) body.mfa_token = mfa.value;
    // Beside the form's action (/signin/passkey under PUBLIC_URL's path).
    return fetch(form.getAttribute('action') + '/options', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      if (!res.ok) throw new Error('options: HTTP ' + res.status);
      return res.json();
    }).then(function (o) {
      o.challenge = toBuf(o.challenge);
      if (o.allowCredentials) o.allowCredentials = o.allowCredentials.map(function (c) { return Object.assign({}, c, { id: toBuf(c.id) }); });
      return o;
    });
  }

  function submit(cred) {
    var r = cred.response;
    var json = {
      id: cred.id,
      rawId: fromBuf(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: fromBuf(r.clientDataJSON), authenticatorData: fromBuf(r.authenticatorData), signature: fromBuf(r.signature) },
    };
    if (r.userHandle) json.response.userHandle = fromBuf(r.userHandle);
    if (cred.authenticatorAttachment) json.authenticatorAttachment = cred.authenticatorAttachment;
    field('response').value = JSON.stringify(json);
    form.submit();
  }

  // The autofill request (conditional mediation) runs until the button starts a modal one.
  var autofill = null;
  function startAutofill() {
    if (form.getAttribute('data-autofill') !== 'on' || !PublicKeyCredential.isConditionalMediationAvailable) return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) return;
      var controller = new AbortController();
      autofill = controller;
      return options().then(function (publicKey) {
        if (controller.signal.aborted) return null;
        return navigator.credentials.get({ publicKey: publicKey, mediation: 'conditional', signal: controller.signal });
      }).then(function (cred) {
        if (cred) submit(cred);
      });
    }).catch(function () { /* autofill is a convenience: the button and the password remain */ });
  }

  button.addEventListener('click', function () {
    if (autofill) autofill.abort();
    autofill = null;
    say('');
    button.disabled = true;
    options().then(function (publicKey) {
      return navigator.credentials.get({ publicKey: publicKey });
    }).then(function (cred) {
      if (cred) submit(cred);
    }).catch(function (error) {
      say(error && error.name === 'NotAllowedError' ? form.getAttribute('data-cancelled') : form.getAttribute('data-failed'));
      button.disabled = false;
      startAutofill();
    });
  });

  form.hidden = false;
  startAutofill();
})();
`;
