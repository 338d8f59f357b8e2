// Package identity tells who a request is from when the app does not say it
// plainly.
//
// Two tools, both for the rules engine:
//
//   - A Verifier checks a JWT's signature and times against a configured key
//     (a PEM file, a shared secret or a JWKS file) and returns its claims.
//     DecodeUnverified returns them without checking anything, for apps that
//     verify tokens themselves.
//   - Bindings remember what a login taught: the session cookie a login
//     response set, bound to the user name the login request carried, so that
//     later requests that carry only the cookie still have an actor. Keys are
//     session secrets, so they are kept only as SHA-256 hashes, in memory and
//     on disk.
//
// Both are safe for concurrent use by many pipeline workers.
package identity
