package shapes

import (
	"os"

	"github.com/opencontainers/go-digest"
)

// truncated writes the base archive cut in the middle of its layer.
func (g *gen) truncated(fs []file, lname string) {
	g.add(Fixture{Name: "bad-truncated", Tool: "hostile", Bad: true, Note: "an archive cut short in the middle of a layer"}, fs, "")
	if g.err != nil {
		return
	}
	p := g.out[len(g.out)-1].Path
	b, err := os.ReadFile(p)
	if err != nil {
		g.err = err
		return
	}
	// Keep everything up to half of the last layer's data.
	cut := len(b) - 1024 - 512
	for i := range fs {
		if fs[i].name == lname {
			cut -= len(fs[i].body) / 2
		}
	}
	g.err = os.WriteFile(p, b[:cut], 0o644)
}

// dockerHostile are broken docker-save archives.
func (g *gen) dockerHostile() {
	im := build("amd64", opts{layers: []string{"docker victim one", "docker victim two"}})
	cfgName := hexOf(im.config) + ".json"
	files := func(it item, layers ...[]byte) []file {
		fs := []file{{name: cfgName, body: im.config}, manifestJSON(it)}
		for i, l := range layers {
			fs = append(fs, file{name: string(rune('a'+i)) + "/layer.tar", body: l})
		}
		return fs
	}
	g.add(Fixture{Name: "bad-docker-layer-count", Tool: "hostile", Bad: true, Mention: []string{digest.FromBytes(im.config).String()}, Note: "one layer listed, two diff_ids"},
		files(item{cfgName, []string{"victim:1"}, []string{"a/layer.tar"}}, im.layers[0]), "")
	wrong := append([]byte(nil), im.layers[1]...)
	wrong[len(wrong)/3] ^= 1
	g.add(Fixture{Name: "bad-docker-diffid", Tool: "hostile", Bad: true, Mention: []string{"b/layer.tar"}, Note: "a layer whose DiffID is not in the config"},
		files(item{cfgName, []string{"victim:1"}, []string{"a/layer.tar", "b/layer.tar"}}, im.layers[0], wrong), "")
	g.add(Fixture{Name: "bad-docker-config-path", Tool: "hostile", Bad: true, Mention: []string{"../x"}, Note: "a config path outside the archive"},
		files(item{"../x", []string{"victim:1"}, []string{"a/layer.tar", "b/layer.tar"}}, im.layers...), "")
}
