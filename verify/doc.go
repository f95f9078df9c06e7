// Package verify audits a layout or archive without importing it: every
// blob hashed once, every reference from index.json down checked, and the
// result returned as a Report that the CLI renders for people or as JSON.
// It is policy over the layout and archive primitives; it adds no new way
// of reading content.
package verify
