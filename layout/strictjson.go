package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting so a hostile document cannot exhaust the stack
// of any later consumer; real manifests nest about five levels.
const maxJSONDepth = 64

// knownKeys are the OCI and Docker field names. encoding/json matches keys
// case-insensitively and keeps the last duplicate, so {"mediaType":…,
// "MediaType":…} would be read differently by different tools; StrictJSON
// refuses such documents outright.
var knownKeys = keySet("schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests",
	"subject", "annotations", "digest", "size", "urls", "data", "platform",
	"architecture", "os", "os.version", "os.features", "variant", "features",
	"fsLayers", "imageLayoutVersion")

// configKeys are checked in image configs. Old Docker configs carry
// capitalised keys of their own ("Size", "Config"), so only the fields ferry
// actually reads are guarded there.
var configKeys = keySet("architecture", "os", "variant", "rootfs", "diff_ids", "type")

func keySet(keys ...string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[strings.ToLower(k)] = k
	}
	return m
}

// StrictJSON checks b is a single, valid UTF-8 JSON value with no duplicate
// keys, no case variants of known OCI keys and no trailing data. Run it
// before json.Unmarshal on anything that came from outside.
func StrictJSON(b []byte) error { return strictJSON(b, knownKeys) }

// StrictConfigJSON is StrictJSON for image configs.
func StrictConfigJSON(b []byte) error { return strictJSON(b, configKeys) }

func strictJSON(b []byte, known map[string]string) error {
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, known, 0, false); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

func checkValue(dec *json.Decoder, known map[string]string, depth int, freeKeys bool) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("malformed JSON: %w", err)
			}
			k := kt.(string)
			if seen[k] {
				return fmt.Errorf("duplicate key %q", k)
			}
			seen[k] = true
			if !freeKeys {
				if canon, ok := caseVariant(known, k); ok {
					return fmt.Errorf("key %q differs only in case from %q", k, canon)
				}
			}
			// Annotation and label keys are user data, not schema.
			free := k == "annotations" || k == "Labels" || k == "labels"
			if err := checkValue(dec, known, depth+1, free); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := checkValue(dec, known, depth+1, false); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // closing delimiter
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// caseVariant reports a key that encoding/json would fold onto a known
// field (it uses Unicode simple folding, so "layerſ" matches "layers")
// without being that field.
func caseVariant(known map[string]string, k string) (string, bool) {
	if _, exact := known[strings.ToLower(k)]; exact && known[strings.ToLower(k)] == k {
		return "", false
	}
	for _, canon := range known {
		if canon != k && strings.EqualFold(canon, k) {
			return canon, true
		}
	}
	return "", false
}

// DecodeStrict runs StrictJSON and then decodes b into v.
func DecodeStrict(b []byte, v any) error {
	if err := StrictJSON(b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
