//go:build interop

package interop

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// saveImage is one image a tool's output must hold.
type saveImage struct {
	name      string   // full name the tool gave it; "" = unnamed (docker save by ID)
	key       string   // the stock image it comes from
	keep      bool     // the tool keeps the stock digest (ctr export, skopeo --preserve-digests)
	platforms []string // complete platforms in the output; nil = linux/amd64
	optional  bool     // a writer limitation may leave it out
	stockName bool     // name is the stock image's own (a name by digest)
}

// saveRow is one thing an engine writes: a row of the save matrix.
type saveRow struct {
	engine      string
	slug, label string
	images      []saveImage
	sparse      bool // the output is a sparse index (ctr export --platform)
	// write runs the engine, writing into dir, and returns the output.
	write func(c *cell, e *saveEnv, dir string) string
}

// saveEnv is what the rows of one engine share: the stock, the loopback
// registry, and (for skopeo) where ferry pushed the stock.
type saveEnv struct {
	eng    *engine // the engine writing the rows
	st     *stock
	reg    *regtest.Registry
	seeded map[string]string // stock name → its copy in the registry
	input  prepared          // the engine's images, loaded once for all rows
}

// expect tracks one image through a row.
type expect struct {
	saveImage
	stock   *stockImage
	config  string // config digest of its linux/amd64 image
	digest  string // root digest the tool wrote; for docker-archives, ferry's conversion (known after import)
	present bool
	ref     string // pushed to: repository:tag (or @digest)
	repo    string
	pushed  string // digest pushed
}

func (x *expect) label() string {
	if x.name == "" {
		return "the unnamed " + x.key + " image"
	}
	return x.name
}

// runSaveRows runs every row of the env's engine.
func runSaveRows(t *testing.T, e *saveEnv) {
	for _, row := range saveRows {
		if row.engine == e.eng.kind {
			t.Run(row.slug, func(t *testing.T) { runSaveRow(t, e, row) })
		}
	}
}

// runSaveRow: the engine writes; ferry imports, verifies and lists it,
// pushes it to the registry; ferry and each puller pull it back. A step
// that fails blocks the steps that need it.
func runSaveRow(t *testing.T, e *saveEnv, row saveRow) {
	k := rowKey{row.slug, e.eng.name}
	dir := t.TempDir()
	var exps []*expect
	for _, si := range row.images {
		s := e.st.byKey[si.key]
		x := &expect{saveImage: si, stock: s, config: s.config}
		if row.engine == "docker" && e.eng.containerdStore {
			// docker save from the containerd store writes what it
			// holds as it is: the original digests, every platform.
			x.keep = true
		}
		if x.stockName {
			x.name = s.names[0]
		}
		switch {
		case x.platforms != nil:
		case x.keep:
			x.platforms = s.platforms
		default:
			x.platforms = []string{"linux/amd64"}
		}
		exps = append(exps, x)
	}
	var out string
	saveMatrix.runCell(t, colWrite, k, colWrite, func(c *cell) {
		out = row.write(c, e, dir)
		if len(c.fails) == 0 {
			checkOutput(c, out, exps)
		}
	})
	// Each step returns whether what it made (a layout, pushed images)
	// is there for the steps that need it; its checks are its own.
	layout := filepath.Join(dir, "layout")
	steps := []struct {
		col, needs string
		fn         func(c *cell) bool
	}{
		{colImport, colWrite, func(c *cell) bool { return checkImport(c, out, layout, exps, row.sparse) }},
		{colVerify, colWrite, func(c *cell) bool { checkVerify(c, out, exps, row.sparse); return true }},
		{colLs, colWrite, func(c *cell) bool { checkLs(c, out, exps); return true }},
		{colPush, colImport, func(c *cell) bool { return checkPush(c, e, row, layout, exps) }},
		{colFerryPull, colPush, func(c *cell) bool { pullFerry(c, dir, exps); return true }},
	}
	for _, p := range pullers {
		steps = append(steps, struct {
			col, needs string
			fn         func(c *cell) bool
		}{p.col, colPush, func(c *cell) bool {
			p.pull(c, engineNamed(p.engine), e.eng.slug+"-"+row.slug, exps)
			return true
		}})
	}
	usable := map[string]bool{colWrite: out != ""}
	for _, s := range steps {
		if !usable[s.needs] {
			saveMatrix.record(k, s.col, result{statusBlocked, "blocked by " + s.needs})
			t.Logf("interop: %s / %s: not run: %s did not succeed", s.col, saveMatrix.label(k), s.needs)
			continue
		}
		saveMatrix.runCell(t, slug(s.col), k, s.col, func(c *cell) { usable[s.col] = s.fn(c) })
	}
}

func slug(col string) string { return strings.ReplaceAll(col, " ", "-") }

// checkOutput reads the tool's output without ferry: every image is there
// under its name, with the linux/amd64 config (the image ID) unchanged and,
// where the tool keeps digests, the stock digest.
func checkOutput(c *cell, out string, exps []*expect) {
	o, err := readOutput(out)
	if !c.check(err == nil, "reading the output: %v", err) {
		return
	}
	for _, x := range exps {
		if d, ok := o.entry(x.name); ok && x.name != "" {
			x.present, x.digest = true, d.Digest.String()
			cfg, err := o.hostConfig(d)
			c.check(err == nil && cfg == x.config, "%s: index.json entry %s leads to config %s (%v), want %s", out, x.name, short(cfg), err, short(x.config))
			if x.keep {
				c.check(x.digest == x.stock.digest, "%s: %s is %s, want the original digest %s", out, x.name, x.digest, x.stock.digest)
			}
			continue
		}
		if it, ok := o.item(x.name, x.config); ok {
			x.present = true // docker-archive: ferry generates the manifest on import
			c.check(o.itemConfig(it) == x.config, "%s: manifest.json entry for %s has config %s, want %s", out, x.label(), short(o.itemConfig(it)), short(x.config))
			continue
		}
		c.failf("%s does not hold %s (index.json: %v; manifest.json: %d entries)", filepath.Base(out), x.label(), o.index != nil, len(o.items))
	}
}

func checkImport(c *cell, out, layout string, exps []*expect, sparse bool) bool {
	var res importResult
	if !ferryJSON(c, &res, "import", out, "--into", layout, "--json") {
		return false
	}
	for _, x := range exps {
		if !x.present {
			continue
		}
		found := false
		for _, im := range res.Images {
			if im.Name != x.name && !(x.name == "" && strings.HasPrefix(im.Name, "@")) {
				continue
			}
			found = true
			if x.digest == "" {
				x.digest = im.Digest // ferry's conversion of a docker-archive entry
			}
			c.check(im.Digest == x.digest, "ferry import: %s is %s, the tool wrote %s", x.label(), im.Digest, x.digest)
			c.check(sameSet(im.Platforms, x.platforms), "ferry import: %s has platforms %v, want %v", x.label(), im.Platforms, x.platforms)
			c.check(sparse == (len(im.Missing) > 0), "ferry import: %s: missing platforms %v (sparse output: %v)", x.label(), im.Missing, sparse)
		}
		c.check(found, "ferry import lists no %s (it lists %d images)", x.label(), len(res.Images))
	}
	return true
}

func checkVerify(c *cell, out string, exps []*expect, sparse bool) {
	var rep verifyReport
	ferryJSON(c, &rep, "verify", out, "--json")
	c.check(rep.OK && len(rep.Problems) == 0, "ferry verify %s: ok=%v, problems %v", filepath.Base(out), rep.OK, rep.Problems)
	for _, x := range exps {
		if !x.present || x.name == "" {
			continue
		}
		found := false
		for _, im := range rep.Images {
			if im.Name != x.name {
				continue
			}
			found = true
			c.check(im.Digest == x.digest, "ferry verify: %s is %s, want %s", x.name, im.Digest, x.digest)
			c.check(sameSet(im.Platforms, x.platforms), "ferry verify: %s complete platforms %v, want %v", x.name, im.Platforms, x.platforms)
			want := "ok"
			if sparse {
				want = "sparse"
				c.check(len(im.Incomplete) > 0, "ferry verify: sparse %s lists no incomplete platforms", x.name)
			}
			c.check(im.Status == want, "ferry verify: %s has status %q, want %q", x.name, im.Status, want)
		}
		c.check(found, "ferry verify does not report %s", x.name)
	}
	if sparse {
		kinds := []string{}
		for _, w := range rep.Warnings {
			kinds = append(kinds, w.Kind)
		}
		c.check(contains(kinds, "sparse"), "ferry verify: a sparse index gave warnings %v, want one of kind sparse", kinds)
	}
}

func checkLs(c *cell, out string, exps []*expect) {
	var ls []lsEntry
	if !ferryJSON(c, &ls, "ls", out, "--json") {
		return
	}
	for _, x := range exps {
		if !x.present {
			continue
		}
		found := false
		for _, l := range ls {
			if l.Name == x.name || (x.name == "" && strings.HasPrefix(l.Name, "@")) {
				found = true
				c.check(l.Digest == x.digest, "ferry ls: %s is %s, want %s", x.label(), l.Digest, x.digest)
				c.check(sameSet(l.Platforms, x.platforms), "ferry ls: %s has platforms %v, want %v", x.label(), l.Platforms, x.platforms)
				c.t.Logf("ferry ls: %s named by %s", l.Name, l.NameFrom)
			}
		}
		c.check(found, "ferry ls %s does not list %s", filepath.Base(out), x.label())
	}
}

// checkPush pushes the named images under 127.0.0.1:PORT/<row>/… and
// checks the digests ferry reports.
func checkPush(c *cell, e *saveEnv, row saveRow, layout string, exps []*expect) bool {
	args := []string{"push", layout, "--to", e.reg.Host + "/" + row.slug, "--json"}
	for _, x := range exps {
		if x.present && x.name != "" {
			args = append(args, x.name)
		}
	}
	var res []pushResult
	if !ferryJSON(c, &res, args...) {
		return false
	}
	for _, x := range exps {
		for _, p := range res {
			if p.Source != x.name || x.name == "" {
				continue
			}
			x.ref, x.repo, x.pushed = splitTarget(p.Target)
			c.check(p.Digest == x.pushed, "ferry push %s: digest %s, target %s", x.name, p.Digest, p.Target)
			if row.sparse {
				c.check(p.SourceDigest == x.digest && x.pushed != x.digest, "ferry push of sparse %s: pushed %s from %q, want a narrowed index from %s", x.name, short(x.pushed), p.SourceDigest, short(x.digest))
				c.check(len(p.LeftOut) > 0, "ferry push of sparse %s: reports nothing left out", x.name)
				c.t.Logf("ferry push: sparse %s went out narrowed as %s; left out: %v", x.name, x.pushed, p.LeftOut)
				checkFilteredIndex(c, x)
				continue
			}
			c.check(x.pushed == x.digest, "ferry push: %s went out as %s, want %s", x.name, x.pushed, x.digest)
		}
		if x.present && x.name != "" {
			c.check(x.ref != "", "ferry push did not report %s", x.name)
		}
	}
	return true
}

// checkFilteredIndex: a sparse index may only go out as an index of its
// complete platforms.
func checkFilteredIndex(c *cell, x *expect) {
	raw, ok := c.run(skopeo(c.t, engineNamed("skopeo 1.9")), "inspect", "--raw", "--tls-verify=false", "docker://"+x.repo+"@"+x.pushed)
	if !ok {
		return
	}
	var idx struct {
		Manifests []struct {
			Platform struct{ OS, Architecture, Variant string }
		}
	}
	if !c.check(json.Unmarshal([]byte(raw), &idx) == nil, "ferry push of sparse %s: the registry holds no index: %s", x.name, clip(raw, 300)) {
		return
	}
	var plats []string
	for _, m := range idx.Manifests {
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		plats = append(plats, p)
	}
	c.check(sameSet(plats, x.platforms), "ferry push of sparse %s: pushed index lists %v, want only the complete %v", x.name, plats, x.platforms)
	x.digest = x.pushed // what the pulls must now find
}
