package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DockerCredentials reads credentials the way docker and podman store
// them: $REGISTRY_AUTH_FILE (podman), then $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, with credHelpers and credsStore run as docker
// runs them. A static credential (from --username) wins for its host.
func DockerCredentials(static map[string]Credential) func(ctx context.Context, host string) (Credential, error) {
	return func(ctx context.Context, host string) (Credential, error) {
		if c, ok := static[host]; ok {
			return c, nil
		}
		for _, p := range configPaths() {
			cfg, err := readConfig(p)
			if err != nil {
				if os.IsNotExist(err) {
					continue
				}
				return Credential{}, fmt.Errorf("%s: %w", p, err)
			}
			if c, found, err := cfg.lookup(ctx, host); err != nil || found {
				return c, err
			}
		}
		return Credential{}, nil
	}
}

func configPaths() []string {
	var out []string
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		out = append(out, p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		out = append(out, filepath.Join(d, "containers", "auth.json"))
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		out = append(out, filepath.Join(d, "config.json"))
	} else if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, ".docker", "config.json"))
	}
	return out
}

type dockerConfig struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	} `json:"auths"`
	CredsStore  string            `json:"credsStore"`
	CredHelpers map[string]string `json:"credHelpers"`
}

func readConfig(p string) (*dockerConfig, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var c dockerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	return &c, nil
}

// configKey is docker's key for a host: Docker Hub's legacy URL, or the
// host itself.
func configKey(host string) string {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "https://index.docker.io/v1/"
	}
	return host
}

func (c *dockerConfig) lookup(ctx context.Context, host string) (Credential, bool, error) {
	key := configKey(host)
	if helper, ok := c.CredHelpers[key]; ok {
		return runHelper(ctx, helper, key, helperTimeout)
	}
	if c.CredsStore != "" {
		if cred, found, err := runHelper(ctx, c.CredsStore, key, helperTimeout); err != nil || found {
			return cred, found, err
		}
	}
	for k, a := range c.Auths {
		if k != key && hostOf(k) != host {
			continue
		}
		cred := Credential{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return Credential{}, false, fmt.Errorf("auths[%q].auth is not base64", k)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok || user == "" {
				return Credential{}, false, fmt.Errorf("auths[%q].auth has no username", k)
			}
			cred.Username, cred.Password = user, strings.TrimRight(pass, "\x00")
		}
		if cred.empty() {
			continue // docker writes {} when a helper holds the secret
		}
		return cred, true, nil
	}
	return Credential{}, false, nil
}

// hostOf strips a scheme and path from a legacy auths key.
func hostOf(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	h, _, _ := strings.Cut(k, "/")
	return h
}

// helperTimeout bounds one credential helper run. Docker sets none, so a
// helper waiting on a locked keychain or a dead D-Bus hangs it; 30 s is
// enough for a helper that asks a hardware token or a remote vault.
const helperTimeout = 30 * time.Second

// runHelper asks docker-credential-NAME for host's secret, with a time
// limit, never through a shell, never logging its output. On cancellation
// (SIGINT) or time-out the helper's whole process group is killed, and
// ferry waits at most a second more for pipes a stray grandchild holds.
func runHelper(ctx context.Context, name, key string, timeout time.Duration) (Credential, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-credential-"+name, "get")
	ownGroup(cmd)
	cmd.WaitDelay = time.Second
	cmd.Stdin = strings.NewReader(key)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return Credential{}, false, fmt.Errorf("credential helper docker-credential-%s gave no answer for %s within %s; stopped it (is it waiting for a locked keychain or a prompt?)", name, key, timeout)
		case ctx.Err() != nil:
			return Credential{}, false, fmt.Errorf("credential helper docker-credential-%s for %s: %w", name, key, ctx.Err())
		case strings.Contains(out.String()+errb.String(), "credentials not found"):
			return Credential{}, false, nil
		}
		return Credential{}, false, fmt.Errorf("credential helper docker-credential-%s failed for %s: %v", name, key, err)
	}
	var r struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return Credential{}, false, fmt.Errorf("credential helper docker-credential-%s: unreadable answer", name)
	}
	if r.Username == "<token>" {
		return Credential{IdentityToken: r.Secret}, true, nil
	}
	return Credential{Username: r.Username, Password: r.Secret}, true, nil
}
