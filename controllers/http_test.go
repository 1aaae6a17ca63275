package controllers_test

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// httpGet reads a URL on the loopback interface (host-mode ports only).
func httpGet(url string) (string, error) {
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		panic("tests only reach services through 127.0.0.1")
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
