package main

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzEscape: whatever a name, tag or registry message holds, the escaped
// form is valid UTF-8 with nothing a terminal would act on, and a string
// that was already printable comes out unchanged.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"docker.io/library/busybox:1.36", "v1\x1b]0;pwned\a\r\n\u202ex", "\xff\xfe", "\u2028\u00ad"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s)
		if !utf8.ValidString(e) {
			t.Fatalf("escape(%q) = %q is not UTF-8", s, e)
		}
		for _, r := range e {
			if !unicode.IsPrint(r) {
				t.Fatalf("escape(%q) = %q keeps %U", s, e, r)
			}
		}
		printable := utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
		if printable && e != s {
			t.Fatalf("escape(%q) changed a printable string to %q", s, e)
		}
	})
}
