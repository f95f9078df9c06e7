package serve

import (
	"slices"
	"testing"
)

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		flag, repo string
		want       []string
	}{
		{"", "docker.io/library/busybox", []string{"docker.io/library/busybox", "library/busybox"}},
		{"", "ghcr.io/o/r", []string{"ghcr.io/o/r", "o/r"}},
		{"", "localhost:5000/x", []string{"localhost:5000/x", "x"}},
		{"mirror", "docker.io/library/busybox", []string{"mirror/docker.io/library/busybox", "mirror/library/busybox"}},
		{"=mirror/", "ghcr.io/o/r", []string{"mirror/ghcr.io/o/r", "mirror/o/r"}},
		{"docker.io/library=", "docker.io/library/busybox", []string{"busybox", "library/busybox"}},
		{"docker.io=hub", "docker.io/library/busybox", []string{"hub/library/busybox", "library/busybox"}},
		{"docker.io/library=", "ghcr.io/o/r", []string{"ghcr.io/o/r", "o/r"}},
		{"ghcr.io/o/r=", "ghcr.io/o/r", []string{"", "o/r"}},
	} {
		if got := servedNames(tc.repo, ParsePrefix(tc.flag)); !slices.Equal(got, tc.want) {
			t.Errorf("--prefix %q, %s: %q, want %q", tc.flag, tc.repo, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for s, ok := range map[string]bool{"a": true, "library/busybox": true, "a.b/c-d/e__f": true, "a..b": false, "../a": false,
		"a/": false, "/a": false, "a//b": false, "A": false, "a/./b": false, "": false} {
		if validName(s) != ok {
			t.Errorf("validName(%q) = %v", s, !ok)
		}
	}
	long := "a"
	for len(long) <= maxNameLen {
		long += "/a"
	}
	if validName(long) {
		t.Errorf("a %d-character name passes", len(long))
	}
}
