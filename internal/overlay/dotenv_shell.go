package overlay

// The old tool sourced its .env files with bash, and its .env.default uses
// bash forms that compose's syntax does not have:
//
//	DOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}
//	DOCKER_HOST_PORT=${DOCKER_HOST: -4}
//
// This file evaluates those forms, statement by statement, before handing
// the statement to compose-go's dotenv, which still parses it (quotes,
// comments, escapes) and substitutes its compose forms ($VAR, ${VAR},
// ${VAR:-default}, ${VAR:?message} ...) with compose-go's template. The
// evaluator only:
//
//   - replaces each bash form it evaluates with a reference to a synthetic
//     variable holding the result, so that compose-go inserts the result
//     verbatim whatever the quoting of the value;
//   - checks, before compose-go runs, every variable reference compose-go
//     would resolve: one neither set nor defaulted is an error (compose-go
//     would print a log line and substitute an empty string), and so is a
//     ${VAR:?message} whose variable is unset;
//   - refuses, naming the line and the construct, any other bash form
//     (command substitution, ${VAR%pattern}, ${VAR:=word} ...), which
//     compose-go would otherwise keep as text or reject without a line.
//
// The bash forms evaluated (in unquoted and double-quoted values; single
// quotes keep their content literal, as in bash and dotenv):
//
//	${VAR:offset} ${VAR:offset:length}  substring, in characters; offset and
//	                                    length are arithmetic expressions; a
//	                                    negative offset counts from the end
//	                                    and is written ${VAR: -4} or
//	                                    ${VAR:(-4)} (${VAR:-4} is a default);
//	                                    an offset out of the value gives "",
//	                                    a negative length ending before the
//	                                    offset is an error, as in bash
//	${#VAR}                             length, in characters
//	$(( expression ))                   integer arithmetic: + - * / % unary
//	                                    + -, parentheses, integers (decimal,
//	                                    0x hexadecimal, 0 octal), variables
//	                                    (NAME, $NAME, ${NAME}, an empty value
//	                                    counting 0), ${#VAR}, nested $((...))
//	`expr length $VAR`, $(expr length $VAR)
//	                                    the only command substitution: the
//	                                    length of the variable's value
//
// Variables are those of the earlier sources and of the earlier statements
// of the same file, the last assignment winning, as when bash sources the
// files one after the other. Unlike bash, a variable these forms read must
// be set: an unset one is an error, not an empty string or 0.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
)

// lineError is an error on one line of a .env file. msg may quote the file;
// public says the same without any of its text, for a file held in a
// Secret.
type lineError struct {
	line        int
	msg, public string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// statement is one assignment of a .env file, as dotenv delimits them.
type statement struct {
	line  int    // of its first character
	head  string // up to the value: `KEY=`, `export KEY="`; the whole statement when raw
	value string // between the quotes, or unquoted without its comment
	tail  string // the closing quote
	quote byte   // 0, '"' or '\''
	raw   bool   // handed to dotenv as is: a key alone, or an unterminated quote
}

// loadDotenv reads a whole .env file. earlier resolves the variables of the
// earlier sources. refs lists, for each variable set, the variables its
// statement referenced (in this file or an earlier source), as written: what
// its value depends on.
func loadDotenv(content string, earlier func(string) (string, bool)) (values map[string]string, refs map[string][]string, err error) {
	values, refs = map[string]string{}, map[string][]string{}
	for _, st := range splitStatements(strings.TrimPrefix(content, "\uFEFF")) {
		var referenced []string
		lookup := func(name string) (string, bool) {
			referenced = append(referenced, name)
			if v, ok := values[name]; ok {
				return v, true
			}
			return earlier(name)
		}
		sh := &shell{lookup: lookup, line: st.line, dquoted: st.quote == '"'}
		chunk := st.head
		if !st.raw {
			value := st.value
			if st.quote != '\'' {
				var err error
				if value, err = sh.rewrite(value); err != nil {
					return nil, nil, err
				}
			}
			chunk = st.head + value + st.tail
		}
		// The statement alone: within it dotenv sees no earlier line, so
		// every reference goes to lookup, which knows the earlier lines
		// (dotenv itself would prefer the earlier sources).
		parsed, err := dotenv.UnmarshalWithLookup(chunk+"\n", sh.mapping)
		if err != nil {
			return nil, nil, dotenvParseError(err, st.line)
		}
		for k, v := range parsed {
			values[k] = v
			refs[k] = referenced
		}
	}
	return values, refs, nil
}

var dotenvLineNumber = regexp.MustCompile(`^line \d+: `)

// dotenvParseError turns an error of dotenv on one statement into a
// lineError on the statement's line: dotenv counts lines from the
// statement's (and, for an unterminated quote, reports where the file
// ends), and its template errors (an invalid ${...}) have no line.
func dotenvParseError(err error, line int) error {
	msg := err.Error()
	msg = msg[len(dotenvLineNumber.FindString(msg)):]
	return &lineError{line: line, msg: msg, public: "malformed"}
}

// splitStatements delimits the statements of a .env file the way dotenv's
// parser does: blank lines and # comments skipped; a key up to the first =
// or : (a line without either is a key alone, inheriting its value); a value
// quoted, up to its closing quote (a backslash escapes the next character),
// possibly over several lines, or unquoted, up to the end of the line and
// without a " #" comment.
func splitStatements(src string) []statement {
	var out []statement
	line := 1
	for pos := 0; pos < len(src); {
		switch c := src[pos]; {
		case c == '\n':
			line++
			pos++
			continue
		case isBlank(c):
			pos++
			continue
		case c == '#':
			if end := strings.IndexByte(src[pos:], '\n'); end >= 0 {
				pos += end
			} else {
				pos = len(src)
			}
			continue
		}
		start := pos
		sep := strings.IndexAny(src[pos:], "=:\n")
		if sep < 0 || src[pos+sep] == '\n' {
			end := len(src)
			if sep >= 0 {
				end = pos + sep
			}
			out = append(out, statement{line: line, head: src[start:end], raw: true})
			pos = end
			continue
		}
		v := pos + sep + 1
		for v < len(src) && isBlank(src[v]) {
			v++
		}
		if v < len(src) && (src[v] == '"' || src[v] == '\'') {
			q := src[v]
			closing, escaped := -1, false
			for i := v + 1; i < len(src) && closing < 0; i++ {
				switch {
				case escaped:
					escaped = false
				case src[i] == '\\':
					escaped = true
				case src[i] == q:
					closing = i
				}
			}
			if closing < 0 { // dotenv reports it, with its line
				out = append(out, statement{line: line, head: src[start:], raw: true})
				break
			}
			out = append(out, statement{line: line, head: src[start : v+1], value: src[v+1 : closing], tail: string(q), quote: q})
			line += strings.Count(src[start:closing], "\n")
			pos = closing + 1 // the rest of the line: a comment, or another statement
			continue
		}
		end := strings.IndexByte(src[v:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += v
		}
		value, _, _ := strings.Cut(src[v:end], " #")
		out = append(out, statement{line: line, head: src[start:v], value: strings.TrimRightFunc(value, unicode.IsSpace)})
		pos = end
	}
	return out
}

// isBlank is dotenv's isSpace for ASCII: a space that does not end a line.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// shell evaluates the bash forms of one statement.
type shell struct {
	lookup  func(string) (string, bool)
	line    int               // of the text being scanned
	dquoted bool              // the value is double-quoted: a backslash escapes the next character
	results map[string]string // synthetic variables: the results of the evaluated forms
}

// mapping resolves the variables of a statement for compose-go: the
// results of the bash forms, then the earlier variables.
func (sh *shell) mapping(name string) (string, bool) {
	if v, ok := sh.results[name]; ok {
		return v, true
	}
	return sh.lookup(name)
}

// result stores the value of an evaluated form and returns the reference
// compose-go replaces with it: a name of Kargo's own, which shadows a
// variable of the same name within this statement only.
func (sh *shell) result(value string) string {
	if sh.results == nil {
		sh.results = map[string]string{}
	}
	name := fmt.Sprintf("__kargo_bash_result_%d", len(sh.results))
	sh.results[name] = value
	return "${" + name + "}"
}

func (sh *shell) errorf(public, format string, args ...any) error {
	return &lineError{line: sh.line, msg: fmt.Sprintf(format, args...), public: public}
}

func (sh *shell) unset(name string) error {
	msg := fmt.Sprintf("variable %s is not set and has no default", name)
	return &lineError{line: sh.line, msg: msg, public: msg}
}

// rewrite returns text, a value or the word of a default, with its bash
// forms replaced by their results, for compose-go to substitute.
func (sh *shell) rewrite(text string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(text); {
		switch c := text[i]; {
		case c == '\n':
			sh.line++
			b.WriteByte(c)
			i++
		case c == '\\' && sh.dquoted && i+1 < len(text):
			if text[i+1] == '\n' {
				sh.line++
			}
			b.WriteString(text[i : i+2])
			i += 2
		case c == '$' || c == '`':
			line := sh.line
			n, value, evaluated, err := sh.expansion(text[i:])
			if err != nil {
				return "", err
			}
			if evaluated {
				value = sh.result(value)
			}
			b.WriteString(value)
			sh.line = line + strings.Count(text[i:i+n], "\n")
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// expansion reads the form starting s (with $ or `) and returns its length
// and either its value (evaluated, a bash form) or the text compose-go is
// to substitute (a compose form, its references checked).
func (sh *shell) expansion(s string) (n int, value string, evaluated bool, err error) {
	if s[0] == '`' {
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return 0, "", false, sh.errorf("unterminated command substitution", "unterminated command substitution %s", firstLine(s))
		}
		n = end + 2
		value, err = sh.command(s[1:n-1], s[:n])
		return n, value, true, err
	}
	if len(s) < 2 {
		return 1, "$", false, nil
	}
	switch next := s[1]; {
	case next == '$': // compose's escaped dollar
		return 2, "$$", false, nil
	case next == '(':
		if end := arithmeticEnd(s); end > 0 {
			v, err := sh.arithmetic(s[3:end-2], s[:end])
			return end, strconv.FormatInt(v, 10), true, err
		}
		end := matching(s, 1, '(', ')')
		if end < 0 {
			return 0, "", false, sh.errorf("unterminated command substitution", "unterminated command substitution %s", firstLine(s))
		}
		value, err = sh.command(s[2:end], s[:end+1])
		return end + 1, value, true, err
	case next == '{':
		end := matching(s, 1, '{', '}')
		if end < 0 {
			return 0, "", false, sh.errorf("unterminated ${", "unterminated %s", firstLine(s))
		}
		value, evaluated, err = sh.braced(s[2:end], s[:end+1])
		return end + 1, value, evaluated, err
	case isNameStart(next):
		name := leadingName(s[1:])
		if _, ok := sh.lookup(name); !ok {
			return 0, "", false, sh.unset(name)
		}
		return 1 + len(name), s[:1+len(name)], false, nil
	}
	return 1, "$", false, nil // a lone dollar is text, for compose-go as for bash
}

// braced handles ${inner}; construct is the whole form, for errors.
func (sh *shell) braced(inner, construct string) (string, bool, error) {
	if rest, ok := strings.CutPrefix(inner, "#"); ok && isName(rest) {
		value, ok := sh.lookup(rest)
		if !ok {
			return "", false, sh.unset(rest)
		}
		return strconv.Itoa(utf8.RuneCountInString(value)), true, nil
	}
	name := leadingName(inner)
	if name == "" {
		return "", false, sh.unsupported(construct)
	}
	op := inner[len(name):]
	value, set := sh.lookup(name)
	switch {
	case op == "":
		if !set {
			return "", false, sh.unset(name)
		}
		return construct, false, nil
	case strings.HasPrefix(op, ":") && len(op) > 1 && !strings.ContainsRune("-+?=", rune(op[1])):
		if !set {
			return "", false, sh.unset(name)
		}
		v, err := sh.substring(value, op[1:], construct)
		return v, true, err
	}
	// The compose forms: ${NAME:-word} ${NAME-word} ${NAME:+word}
	// ${NAME+word} ${NAME:?message} ${NAME?message}. Only the word
	// compose-go will use is checked and rewritten, as bash expands only
	// that one.
	colon := strings.HasPrefix(op, ":")
	kind := strings.TrimPrefix(op, ":")
	if kind == "" || !strings.ContainsRune("-+?", rune(kind[0])) {
		return "", false, sh.unsupported(construct)
	}
	word := kind[1:]
	missing := !set || (colon && value == "")
	switch {
	case kind[0] == '?' && missing:
		state := "not set"
		if set {
			state = "empty"
		}
		msg := fmt.Sprintf("variable %s is %s", name, state)
		if word == "" {
			return "", false, &lineError{line: sh.line, msg: msg, public: msg}
		}
		return "", false, &lineError{line: sh.line, msg: msg + ": " + word, public: msg}
	case (kind[0] == '-' && missing) || (kind[0] == '+' && !missing):
		w, err := sh.rewrite(word)
		if err != nil {
			return "", false, err
		}
		return "${" + name + op[:len(op)-len(word)] + w + "}", false, nil
	}
	return construct, false, nil
}

func (sh *shell) unsupported(construct string) error {
	return sh.errorf("unsupported ${...} form",
		"%s is not supported (Kargo evaluates, of the bash forms, ${VAR:offset:length}, ${#VAR}, $((...)) and `expr length $VAR`)", construct)
}

// substring evaluates ${NAME:spec}, spec being "offset" or "offset:length",
// with bash's rules.
func (sh *shell) substring(value, spec, construct string) (string, error) {
	offsetExpr, lengthExpr, hasLength := spec, "", false
	if i := topLevelColon(spec); i >= 0 {
		offsetExpr, lengthExpr, hasLength = spec[:i], spec[i+1:], true
	}
	runes := []rune(value)
	size := int64(len(runes))
	offset, err := sh.arithmetic(offsetExpr, construct)
	if err != nil {
		return "", err
	}
	if offset < 0 {
		offset += size
	}
	if offset < 0 || offset > size {
		return "", nil // bash expands an offset out of the value to nothing
	}
	end := size
	if hasLength {
		length := int64(0) // ${VAR:1:} is ${VAR:1:0}
		if strings.TrimSpace(lengthExpr) != "" {
			if length, err = sh.arithmetic(lengthExpr, construct); err != nil {
				return "", err
			}
		}
		if length < 0 {
			end = size + length
			if end < offset {
				return "", sh.errorf("substring expression < 0", "%s: substring expression < 0 (the negative length ends before the offset)", construct)
			}
		} else {
			end = min(offset+length, size)
		}
	}
	return string(runes[offset:end]), nil
}

// command evaluates a command substitution: only `expr length $VAR`.
func (sh *shell) command(cmd, construct string) (string, error) {
	f := strings.Fields(cmd)
	if len(f) == 3 && f[0] == "expr" && f[1] == "length" {
		arg := f[2]
		if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
			arg = arg[1 : len(arg)-1]
		}
		name, ok := strings.CutPrefix(arg, "$")
		if braced, ok := strings.CutPrefix(name, "{"); ok {
			name, ok = strings.CutSuffix(braced, "}")
			if !ok {
				name = ""
			}
		}
		if ok && isName(name) {
			value, set := sh.lookup(name)
			if !set {
				return "", sh.unset(name)
			}
			return strconv.Itoa(utf8.RuneCountInString(value)), nil
		}
	}
	return "", sh.errorf("command substitution is not supported", "command substitution %s is not supported (only `expr length $VAR` is)", construct)
}

// arithmetic evaluates expr, the expression of $((expr)) or of a substring
// offset or length; construct is the whole form, for errors.
func (sh *shell) arithmetic(expr, construct string) (int64, error) {
	p := &arith{sh: sh, s: expr, construct: construct}
	v, err := p.sum()
	if err != nil {
		return 0, err
	}
	if p.skip(); p.pos < len(p.s) {
		if strings.TrimSpace(expr) == "" {
			return 0, p.fail("an empty expression", "empty expression")
		}
		return 0, p.fail("unsupported arithmetic", "%q is not supported (+ - * / %% and parentheses are)", p.rest())
	}
	return v, nil
}

// arith is a recursive descent parser of bash's integer arithmetic,
// restricted to + - * / % and parentheses.
type arith struct {
	sh        *shell
	s         string
	pos       int
	construct string
}

func (p *arith) skip() {
	for p.pos < len(p.s) && (isBlank(p.s[p.pos]) || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *arith) rest() string {
	r := p.s[p.pos:]
	if len(r) > 10 {
		r = r[:10] + "..."
	}
	return r
}

func (p *arith) fail(public, format string, args ...any) error {
	return p.sh.errorf("arithmetic: "+public, "%s: %s", p.construct, fmt.Sprintf(format, args...))
}

// sum: product (("+" | "-") product)*
func (p *arith) sum() (int64, error) {
	v, err := p.product()
	for err == nil {
		p.skip()
		if p.pos >= len(p.s) || (p.s[p.pos] != '+' && p.s[p.pos] != '-') {
			break
		}
		op := p.s[p.pos]
		p.pos++
		var w int64
		if w, err = p.product(); err == nil {
			if op == '+' {
				v += w
			} else {
				v -= w
			}
		}
	}
	return v, err
}

// product: unary (("*" | "/" | "%") unary)*
func (p *arith) product() (int64, error) {
	v, err := p.unary()
	for err == nil {
		p.skip()
		if p.pos >= len(p.s) || !strings.ContainsRune("*/%", rune(p.s[p.pos])) {
			break
		}
		op := p.s[p.pos]
		if p.pos+1 < len(p.s) && (p.s[p.pos+1] == '*' || p.s[p.pos+1] == '=') {
			return 0, p.fail("unsupported arithmetic", "%q is not supported (+ - * / %% and parentheses are)", p.s[p.pos:p.pos+2])
		}
		p.pos++
		var w int64
		if w, err = p.unary(); err != nil {
			break
		}
		switch {
		case op == '*':
			v *= w
		case w == 0:
			return 0, p.fail("division by 0", "division by 0")
		case op == '/':
			v /= w
		default:
			v %= w
		}
	}
	return v, err
}

// unary: ("+" | "-") unary | operand
func (p *arith) unary() (int64, error) {
	p.skip()
	if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
		op := p.s[p.pos]
		p.pos++
		v, err := p.unary()
		if op == '-' {
			v = -v
		}
		return v, err
	}
	return p.operand()
}

// operand: number | NAME | "(" sum ")" | $NAME | ${...} | $((...)) |
// command substitution
func (p *arith) operand() (int64, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return 0, p.fail("missing operand", "an operand is missing")
	}
	switch c := p.s[p.pos]; {
	case c == '(':
		p.pos++
		v, err := p.sum()
		if err != nil {
			return 0, err
		}
		if p.skip(); p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return 0, p.fail("missing )", "missing )")
		}
		p.pos++
		return v, nil
	case c >= '0' && c <= '9':
		end := p.pos
		for end < len(p.s) && (isNameStart(p.s[end]) || (p.s[end] >= '0' && p.s[end] <= '9')) {
			end++
		}
		word := p.s[p.pos:end]
		p.pos = end
		v, ok := parseInteger(word)
		if !ok {
			return 0, p.fail("not a number", "%s is not a number", word)
		}
		return v, nil
	case isNameStart(c):
		name := leadingName(p.s[p.pos:])
		p.pos += len(name)
		value, ok := p.sh.lookup(name)
		if !ok {
			return 0, p.sh.unset(name)
		}
		return p.integer(value, name)
	case c == '$' || c == '`':
		n, value, evaluated, err := p.sh.expansion(p.s[p.pos:])
		if err != nil {
			return 0, err
		}
		form := p.s[p.pos : p.pos+n]
		p.pos += n
		if !evaluated { // a compose form, checked: compose-go resolves it
			if value, err = template.SubstituteWithOptions(value, p.sh.mapping, template.WithoutLogging); err != nil {
				return 0, p.fail("invalid ${...}", "%s: %v", form, err)
			}
		}
		return p.integer(value, form)
	}
	return 0, p.fail("unsupported arithmetic", "%q is not supported (+ - * / %% and parentheses are)", p.rest())
}

// integer reads the value of an operand, never printing it (it may come
// from a Secret): empty counts 0, as in bash.
func (p *arith) integer(value, operand string) (int64, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, nil
	}
	v, ok := parseInteger(strings.TrimPrefix(value, "+"))
	if !ok {
		if n, ok := parseInteger(strings.TrimPrefix(value, "-")); ok && strings.HasPrefix(value, "-") {
			return -n, nil
		}
		return 0, p.fail("an operand is not an integer", "the value of %s is not an integer", operand)
	}
	return v, nil
}

// parseInteger reads an integer constant as bash does: decimal, 0x
// hexadecimal, or octal with a leading 0.
func parseInteger(s string) (int64, bool) {
	base, digits := 10, s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	for _, r := range digits { // ParseInt would also take _ and a sign
		d := strings.IndexRune("0123456789abcdef", unicode.ToLower(r))
		if d < 0 || d >= base {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(digits, base, 64)
	return v, err == nil
}

// arithmeticEnd returns the length of the $((...)) starting s, or 0 when s
// is a command substitution $(...) (its parentheses do not close with
// "))"), as bash decides.
func arithmeticEnd(s string) int {
	if !strings.HasPrefix(s, "$((") {
		return 0
	}
	depth := 0
	for i := 3; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			if i+1 < len(s) && s[i+1] == ')' {
				return i + 2
			}
			return 0
		}
	}
	return 0
}

// matching returns the index of the close matching the open at s[i].
func matching(s string, i int, open, close byte) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// topLevelColon returns the index of the first colon of s outside
// parentheses, braces and backquotes: the one between a substring's offset
// and length.
func topLevelColon(s string) int {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '`':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			depth--
		case c == ':' && depth == 0:
			return i
		}
	}
	return -1
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// leadingName returns the variable name starting s, or "".
func leadingName(s string) string {
	if s == "" || !isNameStart(s[0]) {
		return ""
	}
	i := 1
	for i < len(s) && (isNameStart(s[i]) || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	return s[:i]
}

func isName(s string) bool { return s != "" && leadingName(s) == s }

// firstLine is s up to its first line break, for an error quoting the rest
// of a value.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
