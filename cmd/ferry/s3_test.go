package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/s3test"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestS3Commands runs the S3 route as a user does: copy, export and pull
// into a bucket, copy back out, verify, with the endpoint from the flags
// and the credentials from the AWS variables, which no output repeats.
func TestS3Commands(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "ferry-cli")
	srv.Env(t)
	set := testimage.New(t)
	s3 := []string{"--s3-endpoint", srv.URL(), "--s3-path-style"}
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := ferry(t, args...)
		if code != 0 {
			t.Fatalf("ferry %v: exit %d\n%s%s", args, code, out, errs)
		}
		if strings.Contains(out+errs, srv.SecretKey) {
			t.Fatalf("ferry %v printed the secret key", args)
		}
		return out
	}
	out := run(append([]string{"copy", set.Dir, "s3://ferry-cli/copied"}, s3...)...)
	if !strings.Contains(out, "12 blobs uploaded, 0 already there") {
		t.Errorf("copy into the bucket said:\n%s", out)
	}
	out = run(append([]string{"copy", "--json", set.Dir, "s3://ferry-cli/copied"}, s3...)...)
	var res struct{ Uploaded, Skipped int }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Uploaded != 0 || res.Skipped != 12 {
		t.Errorf("a second copy --json: %v %s", err, out)
	}
	back := filepath.Join(t.TempDir(), "back")
	run(append([]string{"copy", "s3://ferry-cli/copied", "oci:" + back}, s3...)...)
	run("verify", back)

	run(append([]string{"export", set.Dir, "busybox:1.36", "--to", "s3://ferry-cli/exported"}, s3...)...)
	one := filepath.Join(t.TempDir(), "one")
	run(append([]string{"copy", "s3://ferry-cli/exported", "oci:" + one}, s3...)...)
	if out := run("ls", one); !strings.Contains(out, "docker.io/library/busybox  1.36") || strings.Contains(out, "example.com/app") {
		t.Errorf("export of one image into the bucket holds:\n%s", out)
	}

	reg := regtest.Start(t)
	run("copy", set.Dir, "docker://"+reg.Host+"/src")
	run(append([]string{"pull", reg.Host + "/src/app:v1", "--to", "s3://ferry-cli/pulled"}, s3...)...)
	if out := run(append([]string{"copy", "s3://ferry-cli/pulled", "oci:" + filepath.Join(t.TempDir(), "p")}, s3...)...); !strings.Contains(out, set.Index.Digest.String()) {
		t.Errorf("copy of the pulled bucket says:\n%s", out)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	code, out, errs := ferry(t, append([]string{"copy", set.Dir, "s3://ferry-cli/denied"}, s3...)...)
	if code == 0 || !strings.Contains(errs, "refused") || strings.Contains(out+errs, "not-the-secret") {
		t.Fatalf("wrong credentials: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = ferry(t, append([]string{"export", set.Dir, "--to", "s3://ferry-cli/x", "--format", "oci"}, s3...)...)
	if code == 0 || !strings.Contains(errs, "shapes an archive") {
		t.Fatalf("export --format into a bucket: exit %d %s", code, errs)
	}
}

// TestS3BucketIsAWebRoute is the two routes end to end, as issue 11 puts
// them: ferry copy into a bucket on one side; on the other, ferry pull of
// the bucket's public URL, which the S3 server serves as plain GETs (the
// static web route), with no S3 credentials at all. Digests and names come
// out as they went in, and the pulled layout verifies.
func TestS3BucketIsAWebRoute(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "public")
	srv.Public(t, "public")
	set := testimage.New(t)
	withCreds := append(os.Environ(), "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	cmd := exec.Command(os.Args[0], "copy", set.Dir, "s3://public/mirror/v1", "--s3-endpoint", srv.URL(), "--s3-path-style")
	cmd.Env = append(withCreds, "FERRY_AS_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy into the bucket: %v\n%s", err, out)
	}
	dst := filepath.Join(t.TempDir(), "pulled")
	code, out, errs := ferry(t, "pull", srv.URL()+"/public/mirror/v1/", "--to", dst)
	if code != 0 {
		t.Fatalf("pull of the bucket's URL: %s %s", out, errs)
	}
	if code, _, errs := ferry(t, "verify", dst); code != 0 {
		t.Fatal(errs)
	}
	src, got := lsNames(t, set.Dir), lsNames(t, dst)
	if len(src) == 0 || strings.Join(src, "\n") != strings.Join(got, "\n") {
		t.Fatalf("names and digests changed on the way:\n%v\n%v", src, got)
	}
}

// lsNames is what ferry ls --json says a layout holds: name and digest of
// each image, sorted.
func lsNames(t *testing.T, dir string) []string {
	code, out, errs := ferry(t, "ls", "--json", dir)
	if code != 0 {
		t.Fatal(errs)
	}
	var ims []struct{ Name, Digest string }
	if err := json.Unmarshal([]byte(out), &ims); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var names []string
	for _, im := range ims {
		names = append(names, im.Name+" "+im.Digest)
	}
	sort.Strings(names)
	return names
}
