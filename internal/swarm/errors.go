package swarm

import (
	"bytes"
	"encoding/json"
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

// dockerNotFound is the body of the engine's only answer without an
// Api-Version header: a route it does not know (an older engine).
const dockerNotFound = "page not found"

// checkDocker returns a *NotDockerError unless resp comes from a Docker
// Engine: every answer of the engine's API routes carries an Api-Version
// header, and its answer to an unknown route is a JSON 404 saying
// dockerNotFound. It reads the body of such a 404 and puts it back.
func checkDocker(resp *http.Response) error {
	if resp.Header.Get("Api-Version") != "" {
		return nil
	}
	if resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") == "application/json" {
		// Bounded: a body longer than the engine's message is not the engine's.
		body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var answer map[string]any
		if err == nil && json.Unmarshal(body, &answer) == nil && len(answer) == 1 && answer["message"] == dockerNotFound {
			return nil
		}
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
