//go:build interop

package interop

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitation is a cell whose tool is known not to handle the shape: the
// cell must fail, and each of its failures must mention one of want's
// alternatives ("a|b"). A tool that starts to handle it, or fails differently, fails
// the suite, so that this table gets updated. Empty fields match any.
type limitation struct {
	id      string
	matrix  string   // "load" or "save"
	rows    []string // shape or save-row slugs
	notRows []string // … except these
	formats []string // load: ferry export formats; save: the engines writing the row
	cols    []string // load: the engines' columns; save: the step
	want    string
	reason  string // one line, for the report
}

// Debian 12's are docker.io 20.10.24, podman 4.3.1, containerd 1.6.20,
// skopeo 1.9.3 (containers/image 5.23); the current ones are listed in
// variants_test.go.
var limitations = []limitation{
	{id: "L1", matrix: "load", rows: []string{"docker-list"}, formats: ociFormats, cols: []string{"skopeo 1.9 copy", "skopeo 1.18 copy"}, want: "no descriptor found|matches unsupported manifest MIME types",
		reason: "skopeo (1.9 and 1.18 alike) selects only OCI manifest/index entries of index.json: a Docker manifest list entry is \"no descriptor found\" (1.9) or \"matches unsupported manifest MIME types\" (1.18)"},
	{id: "L2", matrix: "load", rows: []string{"schema2"}, formats: ociFormats, cols: []string{"skopeo 1.9 copy", "skopeo 1.18 copy"}, want: "shares the tag",
		reason: "ref.name holds the tag only (the docker/containerd convention ferry follows), so two images tagged latest are ambiguous for oci-archive:FILE:latest; skopeo 1.9 and 1.18 silently take the first"},
	{id: "L3", matrix: "load", rows: []string{"by-digest"}, formats: manifestFormats, cols: []string{"docker 20.10 load"}, want: "untagged",
		reason: "docker load (graphdriver store) names images only through manifest.json RepoTags (name:tag): a name by digest loads untagged, as its image ID"},
	{id: "L4", matrix: "load", rows: []string{"by-digest"}, formats: manifestFormats, cols: []string{"podman 4.3 load", "podman 5.4 load"}, want: "untagged",
		reason: "podman load reads a multi-entry archive through manifest.json (RepoTags name:tag only): a name by digest loads untagged, as its image ID"},
	{id: "L5", matrix: "save", rows: []string{"podman-oci-archive"}, formats: []string{"podman 4.3", "podman 5.4"}, cols: []string{colWrite}, want: "does not hold docker.io/acme/tool:2",
		reason: "podman 4.3 and 5.4 `save --format oci-archive A B` writes only the first image and drops the rest without a word (podman#9590)"},
	{id: "L6", matrix: "load", formats: []string{"oci"}, cols: []string{"docker 20.10 load"}, want: "blobs/json",
		reason: "docker 20.10 (graphdriver store) reads only manifest.json, which --format oci leaves out; it fails with \"open …/blobs/json: no such file or directory\""},
	{id: "L7", matrix: "load", formats: []string{"oci"}, notRows: []string{"single"}, cols: []string{"podman 4.3 load", "podman 5.4 load"}, want: "does not match any of the supported image formats",
		reason: "podman 4.3 and 5.4 read an OCI archive only when index.json has exactly one entry (one image under two tags is two entries; podman#29196); with several and no manifest.json to fall back on, the whole load fails"},
	{id: "L8", matrix: "load", formats: []string{"docker"}, rows: []string{"by-digest"}, want: "untagged|no image named",
		reason: "--format docker: manifest.json cannot carry a name by digest, so ferry writes that image untagged (by design, docs/FORMAT.md); engines get it without its name"},
	{id: "L9", matrix: "load", rows: []string{"oci-index", "single"}, formats: ociFormats, cols: []string{"skopeo 1.18 copy"}, want: "we cannot modify it",
		reason: "skopeo 1.18 (containers/image 5.34.2) marks an index entry whose image has zstd layers with the annotation io.github.containers.compression.zstd, so it must rewrite an index without it (the arm64 entry here): `copy --all --preserve-digests` refuses (\"…but we cannot modify it\"); skopeo 1.9 copies it unchanged"},
	{id: "L10", matrix: "load", rows: []string{"single"}, formats: ociFormats, cols: []string{"podman 5.4 load"}, want: "want the index digest",
		reason: "podman 5.4 loads a one-entry OCI archive of an index with every name and image ID right, but records the linux/amd64 manifest's digest as the image's digest, not the index's (podman 4.3 kept the index digest)"},
	{id: "L11", matrix: "save", rows: []string{"skopeo-oci-dir"}, formats: []string{"skopeo 1.18"}, cols: []string{colWrite}, want: "we cannot modify it",
		reason: "as L9, from the registry: skopeo 1.18 `copy --all --preserve-digests` of the index with a zstd image to oci:DIR refuses"},
	{id: "L12", matrix: "load", rows: []string{"artifact"}, formats: ociFormats, cols: []string{"skopeo 1.9 copy", "skopeo 1.18 copy"}, want: "Invalid image @",
		reason: "skopeo selects an entry of an OCI archive by its ref.name, which an unnamed artifact has not, and takes none by position (oci-archive:FILE:@N is \"Invalid image @N\"; 1.18 takes oci:DIR:@N, so unpacking the archive is the way)"},
}

// ociFormats are the export formats with an index.json, manifestFormats
// those with a manifest.json.
var (
	ociFormats      = []string{"both", "oci"}
	manifestFormats = []string{"both", "docker"}
)

// Columns of the save matrix; the load matrix has one per engine
// (engine.loadCol), and the pull-back ones are the pullers'.
const (
	colWrite     = "write"
	colImport    = "import"
	colVerify    = "verify"
	colLs        = "ls"
	colPush      = "push"
	colFerryPull = "ferry pull"
)

// Cell outcomes.
const (
	statusOK    = "ok"
	statusFail  = "FAIL"
	statusSkip  = "skip"
	statusNA    = "n/a"
	statusLimit = "limit"
	// statusBlocked: not checked because an earlier step of the row failed
	// (that step is reported) or was an expected limitation.
	statusBlocked = "blocked"
)

type result struct {
	status string
	note   string // limitation id, n/a reason or first failure
}

// matrix collects the outcome of every cell of one table.
type matrix struct {
	name, title string
	cols        []string
	mu          sync.Mutex
	rows        []rowKey // in report order
	labels      map[rowKey]string
	cells       map[rowKey]map[string]result
}

// rowKey is a row: in the load matrix a shape and ferry's export format,
// in the save matrix a save row and the engine (its name) that wrote it.
type rowKey struct{ slug, format string }

var (
	loadMatrix = &matrix{name: "load", title: "ferry archive → engines"} // columns: registerRows
	saveMatrix = &matrix{name: "save", title: "engine output → ferry import/verify/ls → push → pull back",
		cols: []string{colWrite, colImport, colVerify, colLs, colPush, colFerryPull}}
)

func (m *matrix) addRow(slug, format, label string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.labels == nil {
		m.labels, m.cells = map[rowKey]string{}, map[rowKey]map[string]result{}
	}
	k := rowKey{slug, format}
	if _, ok := m.labels[k]; !ok {
		m.rows = append(m.rows, k)
		m.labels[k] = label
	}
}

func (m *matrix) record(k rowKey, col string, r result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cells[k] == nil {
		m.cells[k] = map[string]result{}
	}
	m.cells[k][col] = r
}

func (m *matrix) label(k rowKey) string {
	l := m.labels[k]
	if m.name == "load" {
		l += " [" + k.format + "]"
	}
	return l
}

// cell is one (row, column) being checked: it counts the checks made and
// collects the failures, each naming the tool, the shape, the command
// and its stderr.
type cell struct {
	t      *testing.T
	m      *matrix
	key    rowKey
	col    string
	fails  []string
	checks int
	na     string
}

// check records one assertion; msg says what was compared.
func (c *cell) check(ok bool, format string, a ...any) bool {
	c.t.Helper()
	c.checks++
	if !ok {
		c.fails = append(c.fails, fmt.Sprintf(format, a...))
	}
	return ok
}

func (c *cell) failf(format string, a ...any) {
	c.fails = append(c.fails, fmt.Sprintf(format, a...))
}

// notApplicable marks the cell n/a (nothing to check, for a reason).
func (c *cell) notApplicable(why string) { c.na = why }

// run runs a tool for this cell; a failure is recorded and ok is false.
func (c *cell) run(tl *tool, args ...string) (string, bool) {
	c.t.Helper()
	out, err := tl.run(c.t, args...)
	if err != nil {
		c.failf("%v", err)
		return out, false
	}
	return out, true
}

// runCell runs fn as the subtest name and records the outcome of the
// cell (m, row, format, col) against the limitations table. It returns
// the status.
func (m *matrix) runCell(t *testing.T, name string, k rowKey, col string, fn func(c *cell)) string {
	status := statusFail
	t.Run(name, func(t *testing.T) {
		c := &cell{t: t, m: m, key: k, col: col}
		finished := false
		defer func() {
			if finished {
				return
			}
			if t.Skipped() {
				status = statusSkip
				m.record(k, col, result{statusSkip, "skipped"})
			} else {
				m.record(k, col, result{statusFail, "stopped early; see the log"})
			}
		}()
		fn(c)
		status = c.finish()
		finished = true
	})
	return status
}

func (c *cell) finish() string {
	t := c.t
	where := fmt.Sprintf("%s / %s", c.col, c.m.label(c.key))
	lim := findLimitation(c.m.name, c.key, c.col)
	all := strings.Join(c.fails, "\n  ")
	switch {
	case len(c.fails) == 0 && lim != nil:
		t.Errorf("%s: expected limitation %s no longer holds (%d checks passed): %s\nupdate the table in matrix_test.go", where, lim.id, c.checks, lim.reason)
		c.m.record(c.key, c.col, result{statusFail, lim.id + " no longer holds"})
		return statusFail
	case len(c.fails) == 0 && c.na != "":
		t.Logf("interop: %s: n/a: %s", where, c.na)
		c.m.record(c.key, c.col, result{statusNA, c.na})
		return statusNA
	case len(c.fails) == 0:
		t.Logf("interop: %s: ok (%d checks)", where, c.checks)
		c.m.record(c.key, c.col, result{statusOK, ""})
		return statusOK
	case lim != nil && allMention(c.fails, lim.want):
		t.Logf("interop: %s: expected limitation %s: %s\n  observed: %s", where, lim.id, lim.reason, all)
		c.m.record(c.key, c.col, result{statusLimit, lim.id})
		return statusLimit
	case lim != nil:
		t.Errorf("%s: expected limitation %s (every failure mentioning %q) but it failed otherwise too:\n  %s", where, lim.id, lim.want, all)
	default:
		t.Errorf("%s: %d failure(s) (%d checks made):\n  %s", where, len(c.fails), c.checks, all)
	}
	c.m.record(c.key, c.col, result{statusFail, c.fails[0]})
	return statusFail
}

func findLimitation(m string, k rowKey, col string) *limitation {
	for i := range limitations {
		l := &limitations[i]
		if l.matrix == m && (l.rows == nil || contains(l.rows, k.slug)) && !contains(l.notRows, k.slug) &&
			(l.formats == nil || contains(l.formats, k.format)) && (l.cols == nil || contains(l.cols, col)) {
			return l
		}
	}
	return nil
}

// allMention: every failure mentions one of the alternatives ("a|b"), so
// a limitation cannot hide another failure in the same cell.
func allMention(fails []string, alternatives string) bool {
	for _, f := range fails {
		hit := false
		for _, a := range strings.Split(alternatives, "|") {
			hit = hit || strings.Contains(f, a)
		}
		if !hit {
			return false
		}
	}
	return true
}

// ---- the report --------------------------------------------------------

// renderReport draws both matrices as Markdown, with the limitations met,
// the failures and what was left behind.
func renderReport(elapsed time.Duration, left []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# ferry interop matrix\n\n")
	fmt.Fprintf(&b, "%s; %s; %.0fs\n\n", suite.version, versionLine(), elapsed.Seconds())
	usedLim := map[string]bool{}
	var fails, nas []string
	for _, m := range []*matrix{loadMatrix, saveMatrix} {
		m.mu.Lock()
		fmt.Fprintf(&b, "## %s (%s)\n\n", m.title, m.name)
		header := append([]string{"shape"}, m.cols...)
		if m.name == "save" {
			header[0] = "tool: output"
		}
		var rows [][]string
		for _, k := range m.rows {
			row := []string{m.label(k)}
			for _, col := range m.cols {
				r, ok := m.cells[k][col]
				switch {
				case !ok:
					row = append(row, "·")
				case r.status == statusLimit:
					usedLim[r.note] = true
					row = append(row, r.note)
				case r.status == statusFail:
					fails = append(fails, fmt.Sprintf("- %s / %s: %s", col, m.label(k), firstLine(r.note)))
					row = append(row, "**FAIL**")
				case r.status == statusBlocked:
					row = append(row, "—")
				case r.status == statusNA:
					nas = append(nas, fmt.Sprintf("- %s / %s: %s", col, m.label(k), r.note))
					row = append(row, "n/a")
				default:
					row = append(row, r.status)
				}
			}
			rows = append(rows, row)
		}
		m.mu.Unlock()
		b.WriteString(table(header, rows))
		b.WriteString("\n")
	}
	b.WriteString(deltaSection())
	b.WriteString(compressedSection())
	b.WriteString(serveSection())
	b.WriteString("ok: every check of the cell passed (names, digests, image IDs, platforms); L*: expected limitation, asserted; n/a: nothing to check; —: blocked by an earlier step of the row; ·: not run.\n\n")
	if len(usedLim) > 0 {
		b.WriteString("Expected limitations (each asserted: the tool must still fail this way):\n\n")
		for _, l := range limitations {
			if usedLim[l.id] {
				fmt.Fprintf(&b, "- %s: %s\n", l.id, l.reason)
			}
		}
		b.WriteString("\n")
	}
	if len(nas) > 0 {
		b.WriteString("Not applicable:\n\n" + strings.Join(nas, "\n") + "\n\n")
	}
	if len(fails) > 0 {
		sort.Strings(fails)
		b.WriteString("Failures:\n\n" + strings.Join(fails, "\n") + "\n\n")
	}
	if len(left) > 0 {
		b.WriteString("Left behind after the run (must be empty):\n\n- " + strings.Join(left, "\n- ") + "\n\n")
	} else {
		b.WriteString("Clean-up: every daemon stopped by PID; no process or mount left behind.\n\n")
	}
	return b.String()
}

func versionLine() string {
	versions.Lock()
	defer versions.Unlock()
	var parts []string
	for _, e := range engines {
		if v, ok := versions.m[e.name]; ok {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "no engine ran"
	}
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return clip(s, 300)
}

// table renders a Markdown table padded for reading in a terminal too.
func table(header []string, rows [][]string) string {
	w := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, s := range r {
			if n := len([]rune(s)); n > w[i] {
				w[i] = n
			}
		}
	}
	line := func(r []string) string {
		var b strings.Builder
		for i, s := range r {
			fmt.Fprintf(&b, "| %s%s ", s, strings.Repeat(" ", w[i]-len([]rune(s))))
		}
		return b.String() + "|\n"
	}
	var b strings.Builder
	b.WriteString(line(header))
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", w[i])
	}
	b.WriteString(line(sep))
	for _, r := range rows {
		b.WriteString(line(r))
	}
	return b.String()
}
