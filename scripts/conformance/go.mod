// This module only pins the OCI distribution-spec conformance suite that
// `make conformance` builds (go test -c) to test ferry serve; it keeps the
// suite's dependencies out of ferry's own go.mod.
module ferry.local/conformance

go 1.26.5

require github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111 // indirect
