package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Credential is what ferry may present to one registry. Secrets never
// appear in errors, logs or --json output.
type Credential struct {
	Username, Password string
	// IdentityToken is an OAuth2 refresh token (docker's identitytoken,
	// or a helper's "<token>" user); it goes only to the token realm.
	IdentityToken string
	// RegistryToken is a ready bearer token for the registry itself.
	RegistryToken string
}

func (c Credential) empty() bool {
	return c.Username == "" && c.Password == "" && c.IdentityToken == "" && c.RegistryToken == ""
}

// challenge is one parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads every challenge of every WWW-Authenticate header:
// schemes are case-insensitive, parameter values tokens or quoted strings
// with backslash escapes.
func parseChallenges(h http.Header) []challenge {
	var out []challenge
	for _, v := range h.Values("WWW-Authenticate") {
		s := v
		for {
			s = strings.TrimLeft(s, " ,")
			if s == "" {
				break
			}
			// A scheme ends at a space (its parameters follow) or a comma
			// (the next challenge does): a comma is never part of it.
			i := strings.IndexAny(s, " ,")
			if i < 0 {
				out = append(out, challenge{scheme: strings.ToLower(s), params: map[string]string{}})
				break
			}
			c := challenge{scheme: strings.ToLower(s[:i]), params: map[string]string{}}
			s = s[i:]
			for {
				s = strings.TrimLeft(s, " ,")
				eq := strings.IndexByte(s, '=')
				sp := strings.IndexAny(s, " ,")
				if eq < 0 || (sp >= 0 && sp < eq) {
					break // next challenge's scheme
				}
				key := strings.ToLower(strings.TrimSpace(s[:eq]))
				s = s[eq+1:]
				var val string
				if strings.HasPrefix(s, `"`) {
					var b strings.Builder
					j := 1
					for ; j < len(s) && s[j] != '"'; j++ {
						if s[j] == '\\' && j+1 < len(s) {
							j++
						}
						b.WriteByte(s[j])
					}
					val, s = b.String(), s[min(j+1, len(s)):]
				} else {
					end := strings.IndexAny(s, ", ")
					if end < 0 {
						end = len(s)
					}
					val, s = s[:end], s[end:]
				}
				c.params[key] = val
			}
			out = append(out, c)
		}
	}
	return out
}

// token is a cached bearer token.
type token struct {
	value   string
	expires time.Time
}

// fetchToken asks the realm for a token covering scopes, anonymously or
// with the credential: basic auth on GET, or a refresh-token grant on POST
// for identity tokens (falling back to GET on 404, as the spec allows).
func (c *Client) fetchToken(ctx context.Context, r request, ch challenge, scopes []string, cred Credential) (token, error) {
	realm := ch.params["realm"]
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return token{}, fmt.Errorf("registry sent an unusable token realm %q", realm)
	}
	if cred.Username != "" || cred.Password != "" || cred.IdentityToken != "" {
		if err := c.checkRealm(r, u); err != nil {
			return token{}, err
		}
	}
	// A realm that never answers must not hold ferry longer than any
	// other request would.
	ctx, cancel := context.WithTimeout(ctx, c.retryTimeout())
	defer cancel()
	var req *http.Request
	if cred.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cred.IdentityToken}, "client_id": {"ferry"}, "scope": {strings.Join(scopes, " ")}}
		if svc := ch.params["service"]; svc != "" {
			form.Set("service", svc)
		}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := u.Query()
		if svc := ch.params["service"]; svc != "" {
			q.Set("service", svc)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		if cred.Username != "" {
			q.Set("account", cred.Username)
		}
		u.RawQuery = q.Encode()
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if cred.Username != "" || cred.Password != "" {
			req.SetBasicAuth(cred.Username, cred.Password)
		}
	}
	req.Header.Set("User-Agent", c.userAgent())
	resp, err := c.http().Do(req)
	if err != nil {
		return token{}, fmt.Errorf("token request to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && req.Method == http.MethodPost {
		return c.fetchToken(ctx, r, ch, scopes, Credential{Username: cred.Username, Password: cred.Password})
	}
	if resp.StatusCode != http.StatusOK {
		return token{}, newRegistryError(resp)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return token{}, fmt.Errorf("token response from %s: %w", u.Host, err)
	}
	t := token{value: body.Token}
	if t.value == "" {
		t.value = body.AccessToken
	}
	if t.value == "" {
		return token{}, fmt.Errorf("token response from %s carries no token", u.Host)
	}
	exp := max(body.ExpiresIn, 60)
	t.expires = time.Now().Add(time.Duration(exp)*time.Second - 10*time.Second)
	return t, nil
}

// checkRealm refuses to send credentials to a token realm over plain HTTP,
// where anyone on the path reads them. A registry chooses its realm, so a
// hostile or misconfigured one could otherwise collect the user's password
// in clear text on any host. Plain HTTP is accepted only where the user
// already accepted it for the credentials: the realm is the registry
// itself, spoken in plain HTTP (a loopback or --plain-http registry), or
// a host the user named with --plain-http.
func (c *Client) checkRealm(r request, realm *url.URL) error {
	if realm.Scheme == "https" {
		return nil
	}
	if strings.HasPrefix(r.url, "http://") && realm.Host == r.host {
		return nil
	}
	if c.PlainHTTP[realm.Host] || c.PlainHTTP[realm.Hostname()] {
		return nil
	}
	why := "the registry is spoken over HTTPS"
	if strings.HasPrefix(r.url, "http://") {
		why = "it is not the registry's own host"
	}
	return fmt.Errorf("%s names the token realm %s, which is plain HTTP and %s: ferry sends credentials to a token realm only over TLS; "+
		"refused rather than expose them (if that host is yours and the network trusted, name it with --plain-http %s)",
		r.host, redactURL(realm.String()), why, realm.Host)
}
