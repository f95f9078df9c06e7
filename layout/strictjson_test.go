package layout_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

const goodManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
	`"layers":[],"annotations":{"MediaType":"user data","Layers":"x"}}`

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func TestStrictJSON(t *testing.T) {
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"manifest", goodManifest, true},
		{"empty object", `{}`, true},
		{"scalar", `2`, true},
		{"whitespace around", " \n{}\t\n", true},
		{"unknown keys any case", `{"foo":1,"FOO":2,"Foo":{"Bar":[]}}`, true},
		{"annotation keys are free", `{"annotations":{"mediaType":"a","MediaType":"b","SIZE":"c"}}`, true},
		{"depth 10", nested(10), true},
		{"duplicate key", `{"mediaType":"a","mediaType":"b"}`, false},
		{"duplicate nested key", `{"config":{"size":1,"size":2}}`, false},
		{"duplicate annotation key", `{"annotations":{"a":"1","a":"2"}}`, false},
		{"MediaType", `{"mediaType":"a","MediaType":"b"}`, false},
		{"MediaType alone", `{"MediaType":"application/vnd.oci.image.index.v1+json"}`, false},
		{"Layers", `{"Layers":[]}`, false},
		{"nested Digest", `{"layers":[{"Digest":"sha256:x"}]}`, false},
		{"SchemaVersion", `{"SchemaVersion":2}`, false},
		{"Annotations key itself", `{"Annotations":{}}`, false},
		{"trailing garbage", `{} x`, false},
		{"two documents", `{}{}`, false},
		{"trailing brace", `{}}`, false},
		{"not utf-8", "{\"a\":\"\xff\xfe\"}", false},
		{"not utf-8 key", "{\"\xc3\x28\":1}", false},
		{"depth 100", nested(100), false},
		{"depth 100 objects", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), false},
		{"truncated", `{"a":`, false},
		{"empty", ``, false},
		{"single quotes", `{'a':1}`, false},
		{"number key", `{1:2}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := layout.StrictJSON([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("StrictJSON(%.60q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestStrictConfigJSON(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`, true},
		// Docker's own capitalised config keys are allowed...
		{`{"config":{"Env":["A=1"],"Labels":{"OS":"x"}},"Size":3}`, true},
		// ...but not case variants of the fields ferry reads.
		{`{"Architecture":"amd64"}`, false},
		{`{"rootfs":{"Diff_IDs":[]}}`, false},
		{`{"os":"linux","os":"windows"}`, false},
		{`{"os":"linux"} []`, false},
	} {
		if err := layout.StrictConfigJSON([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("StrictConfigJSON(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		MediaType string `json:"mediaType"`
	}
	if err := layout.DecodeStrict([]byte(`{"mediaType":"a"}`), &v); err != nil || v.MediaType != "a" {
		t.Fatalf("DecodeStrict = %v, %+v", err, v)
	}
	v.MediaType = "unchanged"
	if err := layout.DecodeStrict([]byte(`{"mediaType":"a","MediaType":"b"}`), &v); err == nil {
		t.Fatal("DecodeStrict accepted a case-variant key")
	}
	if v.MediaType != "unchanged" {
		t.Fatal("DecodeStrict wrote into v before refusing the document")
	}
}

// encoding/json matches keys with Unicode simple folding, so "layerſ"
// (U+017F LATIN SMALL LETTER LONG S) fills the Layers field while every
// case-sensitive parser sees an unknown key: the parser differential
// StrictJSON exists to prevent (FORMATS.md §7.6).
func TestStrictJSONUnicodeFold(t *testing.T) {
	for _, doc := range []string{
		`{"layers":[],"layerſ":[{"size":1}]}`,
		`{"config":{"ſize":5}}`,
		`{"manifeſts":[]}`,
	} {
		if err := layout.StrictJSON([]byte(doc)); err == nil {
			var m map[string]json.RawMessage
			_ = json.Unmarshal([]byte(doc), &m)
			t.Errorf("StrictJSON accepted %s (case-sensitive keys: %v)", doc, keys(m))
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
