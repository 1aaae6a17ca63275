package swarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxErrorText is the most of an error's text (in bytes) that Kargo copies
// into a status condition or an event: an engine's message can be as long
// as the spec it quotes.
const MaxErrorText = 512

// ErrorText is the text of err for status and events, cut to MaxErrorText
// bytes. Every error copied into a condition, a service's status message
// or an event goes through it.
func ErrorText(err error) string { return Truncate(err.Error(), MaxErrorText) }

// Truncate cuts s to at most limit bytes, ending with "..." when it was
// cut, on a UTF-8 character boundary.
func Truncate(s string, limit int) string {
	const ellipsis = "..."
	if len(s) <= limit {
		return s
	}
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// NotDockerError is the answer of an endpoint that is not a Docker Engine
// API (a web server, a proxy's own error page): only its status and Server
// header are kept, never its body, which could be anything the endpoint
// serves and would otherwise end up in status and events.
type NotDockerError struct {
	Status string
	Server string
}

func (e *NotDockerError) Error() string {
	msg := "endpoint is not a Docker Engine API: HTTP " + e.Status
	if e.Server != "" {
		msg += " (Server: " + e.Server + ")"
	}
	return msg
}

// maxHeaderText bounds what NotDockerError repeats of the endpoint's status
// line and Server header.
const maxHeaderText = 64

// ErrPlainHTTPToTLS: the endpoint expects TLS and was sent plain HTTP
// (insecure: true against a TLS port).
var ErrPlainHTTPToTLS = errors.New("the endpoint expects TLS (it answered HTTP 400: Client sent an HTTP request to an HTTPS server): set tlsSecretRef instead of insecure: true")

// Answers without an Api-Version header that are known, each by its whole
// body: the engine's answer to a route it does not know (an older engine),
// and Go's TLS server's answer to plain HTTP (dockerd with --tlsverify).
const (
	dockerNotFound = "page not found"
	tlsServerPlain = "Client sent an HTTP request to an HTTPS server.\n"
)

// checkDocker returns a *NotDockerError unless resp comes from a Docker
// Engine: every answer of the engine's API routes carries an Api-Version
// header; of the others, only dockerNotFound and tlsServerPlain are known.
// It reads at most a few hundred bytes of the body and puts them back.
func checkDocker(resp *http.Response) error {
	if resp.Header.Get("Api-Version") != "" {
		return nil
	}
	// Bounded: a body longer than the known ones is none of them.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var answer map[string]any
	switch {
	case err != nil:
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") == "application/json" &&
		json.Unmarshal(body, &answer) == nil && len(answer) == 1 && answer["message"] == dockerNotFound:
		return nil
	case resp.StatusCode == http.StatusBadRequest && string(body) == tlsServerPlain:
		return ErrPlainHTTPToTLS
	}
	return &NotDockerError{Status: printable(resp.Status), Server: printable(resp.Header.Get("Server"))}
}

// printable keeps the printable ASCII of s, cut to maxHeaderText bytes.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return -1
		}
		return r
	}, s)
	return Truncate(s, maxHeaderText)
}
