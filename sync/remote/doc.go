// Package remote is ferry's side of the distribution protocol: a registry
// client written on net/http following the OCI distribution spec (token and
// basic auth, docker's credentials, resumable blob reads, chunked and
// monolithic uploads, the referrers API and its tag fallback), whose
// Repository plays the writable, resolver and tagger roles of package
// layout like any layout directory. It knows nothing of archives or
// layouts on disk.
package remote
