package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// A volume set is one archive cut into files no larger than a medium
// takes. Each volume is a tar of its own whose first entry is its volume
// index (volumeIndexName): which set it belongs to, its place in it, and
// every entry it carries in tar order. A blob too big for the room left in
// a volume is cut into chunks, each an entry named for the blob and its
// part number and listed with its own digest, so a bad copy is pinned to
// the one volume that holds the bad chunk. docs/FORMAT.md, "Volume sets",
// is the reference.
const (
	volumeIndexName  = "ferry-volume.json"
	volumeChunkDir   = "ferry-chunks/"
	volumeVersion    = 1
	maxVolumes       = 9999
	maxVolumeIndex   = 32 << 20 // bytes: 200,000 entries of ~150 bytes
	maxVolumeEntries = 1 << 18
	maxSetEntries    = 1 << 21 // over all the volumes of a directory
	setIDLen         = 32      // hex digits: 128 bits
)

// volumeIndex is the parsed ferry-volume.json of one volume.
type volumeIndex struct {
	Version int           `json:"ferryVolume"`
	Set     string        `json:"set"`
	Volume  int           `json:"volume"`
	Volumes int           `json:"volumes"`
	Entries []volumeEntry `json:"entries"`
}

// volumeEntry is one member of a volume: a whole file (name and size), or
// a chunk of a blob (name, size, and where it lies in the blob).
type volumeEntry struct {
	Name     string        `json:"name"`
	Size     int64         `json:"size"`
	Blob     digest.Digest `json:"blob,omitempty"`
	BlobSize int64         `json:"blobSize,omitempty"`
	Offset   int64         `json:"offset,omitempty"`
	Digest   digest.Digest `json:"digest,omitempty"`
}

func (e volumeEntry) chunk() bool { return e.Blob != "" }

// chunkName is where part (1-based) of blob lies in a volume's tar; it
// stays under tar's 100-byte name field, so every header is 512 bytes.
func chunkName(blob digest.Digest, part int) string {
	return volumeChunkDir + blob.Algorithm().String() + "/" + blob.Encoded() + "." + strconv.Itoa(part)
}

var chunkNameRE = regexp.MustCompile(`^ferry-chunks/([a-z0-9]+)/([a-f0-9]+)\.([1-9][0-9]{0,3})$`)

// parseChunkName returns the blob and part number a chunk name says.
func parseChunkName(name string) (digest.Digest, int, bool) {
	m := chunkNameRE.FindStringSubmatch(name)
	if m == nil {
		return "", 0, false
	}
	part, _ := strconv.Atoi(m[3])
	return digest.Digest(m[1] + ":" + m[2]), part, true
}

var setIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Exact key sets: encoding/json would match keys case-insensitively and
// let the last of two win, so two readers could see two different indexes.
var (
	volumeIndexKeys = []string{"ferryVolume", "set", "volume", "volumes", "entries"}
	volumeEntryKeys = []string{"name", "size", "blob", "blobSize", "offset", "digest"}
)

// parseVolumeIndex reads one volume index strictly: known version, exact
// keys, valid digests and names, sizes that add up, nothing after the
// object. label names the volume file in errors. The caller bounds b by
// maxVolumeIndex before reading it.
func parseVolumeIndex(b []byte, label string) (*volumeIndex, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s: %w: %s", label, volumeIndexName, layout.ErrInvalid, fmt.Sprintf(format, a...))
	}
	if len(b) > maxVolumeIndex {
		return nil, bad("%d bytes, more than the %d MiB a volume index may have", len(b), maxVolumeIndex>>20)
	}
	if err := layout.StrictJSON(b); err != nil {
		return nil, bad("%v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, bad("not a JSON object: %v", err)
	}
	if err := exactKeys(raw, volumeIndexKeys, volumeIndexKeys); err != nil {
		return nil, bad("%v", err)
	}
	var v volumeIndex
	if err := json.Unmarshal(raw["ferryVolume"], &v.Version); err != nil {
		return nil, bad("ferryVolume: %v", err)
	}
	if v.Version != volumeVersion {
		return nil, bad("version %d; this ferry reads version %d (a newer ferry wrote it?)", v.Version, volumeVersion)
	}
	if err := json.Unmarshal(raw["set"], &v.Set); err != nil || !setIDRE.MatchString(v.Set) {
		return nil, bad("set must be %d lowercase hex digits", setIDLen)
	}
	if json.Unmarshal(raw["volume"], &v.Volume) != nil || json.Unmarshal(raw["volumes"], &v.Volumes) != nil ||
		v.Volumes < 2 || v.Volumes > maxVolumes || v.Volume < 1 || v.Volume > v.Volumes {
		return nil, bad("volume and volumes must be whole numbers with 1 <= volume <= volumes, 2 <= volumes <= %d", maxVolumes)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw["entries"], &entries); err != nil {
		return nil, bad("entries: %v", err)
	}
	if len(entries) > maxVolumeEntries {
		return nil, bad("more than %d entries", maxVolumeEntries)
	}
	seen := map[string]bool{volumeIndexName: true}
	for i, r := range entries {
		e, err := parseVolumeEntry(r)
		if err != nil {
			return nil, bad("entry %d: %v", i+1, err)
		}
		if seen[e.Name] {
			return nil, bad("entry %d: %q is listed twice (or is the index itself)", i+1, e.Name)
		}
		seen[e.Name] = true
		v.Entries = append(v.Entries, e)
	}
	return &v, nil
}

func parseVolumeEntry(r json.RawMessage) (volumeEntry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r, &m); err != nil {
		return volumeEntry{}, fmt.Errorf("not an object: %v", err)
	}
	var e volumeEntry
	if _, ok := m["blob"]; ok {
		// offset is left out when it is 0, as encoding/json writes it.
		if err := exactKeys(m, []string{"name", "size", "blob", "blobSize", "digest"}, volumeEntryKeys); err != nil {
			return e, err
		}
	} else if err := exactKeys(m, []string{"name", "size"}, []string{"name", "size"}); err != nil {
		return e, err
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, err
	}
	if n, err := cleanName(e.Name); err != nil || n != e.Name || n == "." {
		return e, fmt.Errorf("name %q is not a clean relative path", e.Name)
	}
	if e.Size < 0 {
		return e, fmt.Errorf("%q: negative size", e.Name)
	}
	blob, part, isChunk := parseChunkName(e.Name)
	if !e.chunk() {
		if strings.HasPrefix(e.Name, volumeChunkDir) {
			return e, fmt.Errorf("%q lies in %s but is not described as a chunk", e.Name, volumeChunkDir)
		}
		return e, nil
	}
	if err := layout.ValidateDigest(e.Blob); err != nil {
		return e, fmt.Errorf("%q: blob: %v", e.Name, err)
	}
	if err := layout.ValidateDigest(e.Digest); err != nil {
		return e, fmt.Errorf("%q: digest: %v", e.Name, err)
	}
	if !isChunk || blob != e.Blob || part < 1 {
		return e, fmt.Errorf("%q is not the chunk name of blob %s", e.Name, e.Blob)
	}
	if e.Size <= 0 || e.BlobSize <= 0 || e.Offset < 0 || e.Offset > e.BlobSize || e.Size > e.BlobSize-e.Offset {
		return e, fmt.Errorf("%q: chunk of %d bytes at %d does not lie inside a blob of %d bytes", e.Name, e.Size, e.Offset, e.BlobSize)
	}
	return e, nil
}

// exactKeys checks that m has every key of need, no key outside allow, and
// no key in another case than ferry writes it.
func exactKeys(m map[string]json.RawMessage, need, allow []string) error {
	ok := map[string]bool{}
	for _, k := range allow {
		ok[k] = true
	}
	for k := range m {
		if !ok[k] {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	for _, k := range need {
		if _, has := m[k]; !has {
			return fmt.Errorf("key %q is required", k)
		}
	}
	return nil
}

// encode writes the index in its one canonical form: one entry a line.
func (v *volumeIndex) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"ferryVolume\":%d,\"set\":%q,\"volume\":%d,\"volumes\":%d,\n \"entries\":[", v.Version, v.Set, v.Volume, v.Volumes)
	for i, e := range v.Entries {
		if i > 0 {
			b.WriteByte(',')
		}
		line, _ := json.Marshal(e)
		b.WriteString("\n  ")
		b.Write(line)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}
