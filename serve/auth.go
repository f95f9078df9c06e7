package serve

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// maxHtpasswd bounds the file read at start: thousands of bcrypt lines
// fit in far less.
const maxHtpasswd = 1 << 20

// Htpasswd is a set of users with bcrypt password hashes, as
// `htpasswd -B` writes them. Other hash forms (MD5, SHA1, crypt) are
// refused when the file is read: they are weak, and a server that
// silently ignored a line would lock its user out with no reason given.
type Htpasswd struct {
	users map[string][]byte
	// good caches a hash of each user:password pair that passed, so a
	// client sending its credentials on every blob request (docker does)
	// pays bcrypt's deliberate cost once, not once per layer.
	mu   sync.Mutex
	good map[[sha256.Size]byte]string
}

// maxGood bounds the cache of accepted credentials.
const maxGood = 1024

// dummyHash is compared against for unknown users, so a wrong user name
// costs what a wrong password does and names cannot be probed by timing.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("ferry serve dummy"), bcrypt.MinCost)

// LoadHtpasswd reads an htpasswd file of bcrypt entries.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &Htpasswd{users: map[string][]byte{}, good: map[[sha256.Size]byte]string{}}
	sc := bufio.NewScanner(io.LimitReader(f, maxHtpasswd+1))
	read := 0
	for line := 1; sc.Scan(); line++ {
		read += len(sc.Bytes()) + 1
		if read > maxHtpasswd {
			return nil, fmt.Errorf("%s: more than %d KiB; not an htpasswd file", path, maxHtpasswd>>10)
		}
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		user, hash, ok := strings.Cut(t, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: not user:hash", path, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: only bcrypt entries are accepted (htpasswd -B): %v", path, line, user, err)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(h.users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return h, nil
}

// check returns the user a request authenticates as.
func (h *Htpasswd) check(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	h.mu.Lock()
	u, hit := h.good[key]
	h.mu.Unlock()
	if hit && subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 {
		return user, true
	}
	hash, known := h.users[user]
	if !known {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return "", false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return "", false
	}
	h.mu.Lock()
	if len(h.good) >= maxGood {
		clear(h.good)
	}
	h.good[key] = user
	h.mu.Unlock()
	return user, true
}
