package layout

import (
	"os"
	"path/filepath"
)

// WriteHaveListFile writes h to path through a Staged temp file beside it,
// so the file carried out of the air gap is the whole list or the old
// one, never a part that a sender would read as "the far side holds
// less". A dead earlier writer's temp file is removed first.
func WriteHaveListFile(path string, h *HaveList) error {
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer root.Close()
	prefix := "." + filepath.Base(path) + ".tmp-"
	StaleTemps(root, ".", prefix, true)
	st, err := Stage(root, ".", prefix)
	if err != nil {
		return err
	}
	defer st.Abort()
	if err := h.Encode(st); err != nil {
		return err
	}
	return st.Commit(filepath.Base(path))
}
