package regtest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// DeleteTag deletes repo:tag through the registry's own API (DELETE by
// tag, which the registry's storage.delete setting allows), as another
// client updating the registry would; the manifest stays under its other
// tags.
func (r *Registry) DeleteTag(repo, tag string) error {
	req, err := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://%s/v2/%s/manifests/%s", r.Host, repo, tag), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("DELETE %s:%s: %s", repo, tag, resp.Status)
	}
	return nil
}

// RemoveRepository removes repo from the registry's storage: the API has
// no call for it, and an operator's clean-up does just this. The registry
// then answers for it as for a repository that never was.
func (r *Registry) RemoveRepository(repo string) error {
	if repo == "" || strings.Contains(repo, "..") {
		return fmt.Errorf("not a repository: %q", repo)
	}
	return os.RemoveAll(filepath.Join(r.Dir, "data", "docker", "registry", "v2", "repositories", filepath.FromSlash(repo)))
}
