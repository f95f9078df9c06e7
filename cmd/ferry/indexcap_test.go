package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestTagRefusesAnIndexItCouldNotRead: 20,000 names used to give a 6 MB
// index.json that ferry then refused to open (4 MiB cap), locking every
// command out of the layout. The tag must be refused, the layout left as
// it was and still usable.
func TestTagRefusesAnIndexItCouldNotRead(t *testing.T) {
	set := testimage.New(t)
	before := snapshot(t, set.Dir)
	args := []string{"tag", set.Dir, "busybox:1.36"}
	for i := range 20000 {
		args = append(args, fmt.Sprintf("registry.example.com/team/tools/busybox:build-%05d", i))
	}
	code, out, errs := ferry(t, args...)
	if code == 0 || !strings.Contains(errs, "index.json would be") || !strings.Contains(errs, "nothing was written") {
		t.Fatalf("tag with 20000 names: exit %d\n%s", code, errs)
	}
	if strings.Contains(out, "tagged") {
		t.Fatalf("a refused tag says it tagged:\n%.300s", out)
	}
	if !reflect.DeepEqual(before, snapshot(t, set.Dir)) {
		t.Fatal("a refused tag changed the layout")
	}
	if code, out, errs := ferry(t, "ls", set.Dir); code != 0 || !strings.Contains(out, "example.com/app") {
		t.Fatalf("the layout is unusable after a refused tag: %s %s", out, errs)
	}
}
