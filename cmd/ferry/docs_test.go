package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const (
	beginRef = "<!-- BEGIN CLI REFERENCE -->\n"
	endRef   = "<!-- END CLI REFERENCE -->"
)

// TestCLIReference keeps the README's CLI reference equal to what the
// program generates. FERRY_UPDATE_DOCS=1 (make docs) rewrites it.
func TestCLIReference(t *testing.T) {
	var gen bytes.Buffer
	writeReference(&gen, newApp(nil, &gen, &gen))
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, beginRef), strings.Index(s, endRef)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the CLI reference markers")
	}
	want := s[:i+len(beginRef)] + gen.String() + s[j:]
	if want == s {
		return
	}
	if os.Getenv("FERRY_UPDATE_DOCS") == "1" {
		if err := os.WriteFile("../../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md CLI reference is out of date with the program: run `make docs`")
}
