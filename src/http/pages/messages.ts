/**
 * Every text of the hosted pages, in one catalogue. English is the only language today;
 * another is one more entry in CATALOGUES with the same keys (the type checks that none
 * is missing), picked from Accept-Language by `messagesFor`.
 */

const en = {
  'brand.name': 'Gatehouse',
  'signin.title': 'Sign in',
  'signin.lead': 'Sign in to continue to {client}.',
  'signin.lead.plain': 'Sign in to your account.',
  'signin.username': 'Username or email',
  'signin.password': 'Password',
  'signin.submit': 'Sign in',
  'signin.forgot': 'Forgot your password?',
  'signin.failed': 'That username or password is not right. Check both and try again.',
  'signin.locked': 'Too many attempts. Wait a few minutes, then try again.',
  'signin.unverified': 'Verify your email address first: open the link we mailed you, then sign in again.',
  'signin.missing': 'Enter your username (or email) and your password.',
  'signin.done': 'You are signed in as {username}. You can close this page.',
  'second_factor.title': 'Second step',
  'second_factor.lead': 'Enter the 6-digit code from your authenticator app.',
  'second_factor.code': 'Code',
  'second_factor.submit': 'Continue',
  'second_factor.missing': 'Enter the code from your authenticator app, or one of your recovery codes.',
  'second_factor.wrong': 'That code is not right. Check the time on your device and try the current code.',
  'second_factor.expired': 'That took too long or too many tries. Sign in again.',
  'second_factor.lead.passkey': 'Use your passkey, or enter one of your recovery codes.',
  'second_factor.recovery_code': 'Recovery code',
  'passkey.or': 'or',
  'passkey.signin': 'Sign in with a passkey',
  'passkey.instead': 'Use a passkey instead',
  'passkey.failed': 'That passkey was not accepted. Try again, or sign in with your password.',
  'passkey.failed.second': 'That passkey was not accepted. Try again, or enter a code.',
  'passkey.cancelled': 'No passkey was used. Try again, or use your password.',
  'passkey.cancelled.second': 'No passkey was used. Try again, or enter a code.',
  'consent.title': 'Allow access?',
  'consent.lead': '{client} wants to:',
  'consent.as': 'You are signed in as {username}.',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',
  'consent.note': 'Gatehouse remembers your answer for this app until you withdraw it.',
  'scope.openid': 'Know who you are (your account id)',
  'scope.profile': 'See your username',
  'scope.email': 'See your email address and whether it is verified',
  'scope.offline_access': 'Stay signed in when you are not using it',
  'logout.title': 'Sign out?',
  'logout.lead': 'Sign out of Gatehouse and of every app you signed in to with it.',
  'logout.submit': 'Sign out',
  'logout.done.title': 'Signed out',
  'logout.done': 'You are signed out of Gatehouse and of the apps you used it for.',
  'error.title': 'Something is not right',
  'error.unknown_client': 'The app that sent you here is not registered with this sign-in service. Go back to the app and tell its administrator.',
  'error.bad_redirect_uri': 'The app that sent you here asked to send you back to an address it has not registered, so we stopped. Go back to the app and tell its administrator.',
  'error.missing_redirect_uri': 'The app that sent you here did not say where to send you back. Go back to the app and tell its administrator.',
  'error.bad_id_token_hint': 'This sign-out link is not valid. Close this page and sign out from the app again.',
  'error.bad_post_logout_redirect_uri': 'The app asked to send you to an address it has not registered after signing out, so we stopped. You have not been signed out; close this page and try from the app again.',
  'error.csrf': 'This form has expired or was sent from another site. Go back, reload the page and try again.',
  'error.session_expired': 'Your sign-in has ended. Go back to the app and sign in again.',
  'error.bad_request': 'This request was not understood. Go back to the app and start again.',
  'error.rate_limited': 'Too many requests. Wait a minute, then try again.',
  'error.unavailable': 'The sign-in service is busy. Wait a moment, then try again.',
  'form_post.title': 'Returning to the app',
  'form_post.lead': 'Press Continue if you are not sent back automatically.',
  'form_post.submit': 'Continue',
  'reset.title': 'Choose a new password',
  'reset.password': 'New password',
  'reset.submit': 'Set new password',
  'verify.title': 'Verify your email address',
  'verify.lead': 'Press the button to confirm this address belongs to you.',
  'verify.submit': 'Verify my address',
} as const;

export type MessageKey = keyof typeof en;
export type Catalogue = Record<MessageKey, string>;

const CATALOGUES: Record<string, Catalogue> = { en };

export interface Messages {
  lang: string;
  t(key: MessageKey, params?: Record<string, string>): string;
}

/** The first language of Accept-Language the catalogue has, else English. */
export function messagesFor(acceptLanguage: string | undefined): Messages {
  const wanted = (acceptLanguage ?? '')
    .split(',')
    .map((part) => part.split(';')[0]!.trim().toLowerCase().split('-')[0]!)
    .filter((l) => l !== '');
  const lang = wanted.find((l) => l in CATALOGUES) ?? 'en';
  const catalogue = CATALOGUES[lang]!;
  return {
    lang,
    t: (key, params) => catalogue[key].replace(/\{(\w+)\}/g, (_, name: string) => params?.[name] ?? ''),
  };
}
