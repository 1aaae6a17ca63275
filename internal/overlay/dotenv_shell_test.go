package overlay

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestDotenvShell: the bash forms of the old tool's .env files, evaluated
// as bash does (the expected values were checked with bash 5.2), and the
// errors, with the source and the line, for what is not evaluated or not
// set. compose-go never logs.
func TestDotenvShell(t *testing.T) {
	var logs bytes.Buffer
	out, level := logrus.StandardLogger().Out, logrus.GetLevel()
	logrus.SetOutput(&logs)
	logrus.SetLevel(logrus.DebugLevel)
	t.Cleanup(func() { logrus.SetOutput(out); logrus.SetLevel(level) })

	earlier := map[string]string{
		"X":           "abcdef",
		"U":           "héllo",
		"EMPTY":       "",
		"N":           "7",
		"WORD":        "seven",
		"ODD":         `a $b "c" #d`,
		"DOCKER_HOST": "tcp://10.0.0.1:2376",
	}
	tests := []struct {
		name string
		env  string
		want map[string]string // a subset of the variables
		err  string            // the whole error instead
	}{
		// ${VAR:offset} and ${VAR:offset:length}
		{name: "offset", env: "A=${X:2}", want: map[string]string{"A": "cdef"}},
		{name: "offset and length", env: "A=${X:1:3}", want: map[string]string{"A": "bcd"}},
		{name: "negative offset", env: "A=${X: -4}", want: map[string]string{"A": "cdef"}},
		{name: "negative offset in parentheses", env: "A=${X:(-2)}", want: map[string]string{"A": "ef"}},
		{name: "negative offset and length", env: "A=${X: -3:2}", want: map[string]string{"A": "de"}},
		{name: "negative offset, whole value", env: "A=${X: -6}", want: map[string]string{"A": "abcdef"}},
		{name: "negative offset before the start", env: "A=${X: -7:2}|${X: -10}", want: map[string]string{"A": "|"}},
		{name: "offset at the end", env: "A=${X:6}", want: map[string]string{"A": ""}},
		{name: "offset past the end", env: "A=[${X:10}]", want: map[string]string{"A": "[]"}},
		{name: "length past the end", env: "A=${X:2:100}", want: map[string]string{"A": "cdef"}},
		{name: "negative length", env: "A=${X:2:-1}", want: map[string]string{"A": "cde"}},
		{name: "negative length ending at the offset", env: "A=[${X:3:-3}]", want: map[string]string{"A": "[]"}},
		{name: "empty length", env: "A=[${X:1:}]", want: map[string]string{"A": "[]"}},
		{name: "arithmetic offset and length", env: "A=${X:1+1:2*2}", want: map[string]string{"A": "cdef"}},
		{name: "characters, not bytes", env: "A=${U:1:2}", want: map[string]string{"A": "él"}},
		{name: "compose default is not a substring", env: "A=${NOPE:-4}", want: map[string]string{"A": "4"}},

		// ${#VAR}, `expr length $VAR`, $((...))
		{name: "length", env: "A=${#X} ${#U} ${#EMPTY}", want: map[string]string{"A": "6 5 0"}},
		{name: "expr length", env: "A=`expr length $X`\nB=$(expr length ${U})\nC=`expr length \"$X\"`", want: map[string]string{"A": "6", "B": "5", "C": "6"}},
		{name: "arithmetic", env: "A=$(( 1 + 2 * 3 - (4 - 1) ))", want: map[string]string{"A": "4"}},
		{name: "division and modulo truncate toward zero", env: "A=$((7 / -2)) $((-7 % 3))", want: map[string]string{"A": "-3 -1"}},
		{name: "hexadecimal and octal", env: "A=$((0x1f + 010))", want: map[string]string{"A": "39"}},
		{name: "unary signs", env: "A=$((-(2) + -N - +1 - -1))", want: map[string]string{"A": "-9"}},
		{name: "variables in arithmetic", env: "A=$(($N * 2 + ${N} + N + ${#X}))", want: map[string]string{"A": "34"}},
		{name: "empty variable counts 0", env: "A=$((EMPTY + 1))", want: map[string]string{"A": "1"}},
		{name: "nested arithmetic and expr length", env: "A=$(( $((`expr length $X` - 1)) * 2 ))", want: map[string]string{"A": "10"}},
		{name: "compose default in arithmetic", env: "A=$((${NOPE:-3} + 1))", want: map[string]string{"A": "4"}},

		// the old .env.default's lines
		{name: "old DOCKER_HOST_IP and DOCKER_HOST_PORT",
			env:  "DOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}\nDOCKER_HOST_PORT=${DOCKER_HOST: -4}",
			want: map[string]string{"DOCKER_HOST_IP": "10.0.0.1", "DOCKER_HOST_PORT": "2376"}},
		{name: "old lines on a unix socket, as bash",
			env:  "DOCKER_HOST=unix:///var/run/docker.sock\nDOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}\nDOCKER_HOST_PORT=${DOCKER_HOST: -4}",
			want: map[string]string{"DOCKER_HOST_IP": "//var/run/docker", "DOCKER_HOST_PORT": "sock"}},

		// quoting: the result is inserted as is; single quotes are literal
		{name: "double quotes", env: `A="${X: -2} and ${#X}"`, want: map[string]string{"A": "ef and 6"}},
		{name: "single quotes are literal", env: `A='${X: -2} $((1+1)) $(cat /etc/x)'`, want: map[string]string{"A": "${X: -2} $((1+1)) $(cat /etc/x)"}},
		{name: "comment after the value", env: "A=${X:0:2} # first two\nB=\"${X:0:2}\" # quoted", want: map[string]string{"A": "ab", "B": "ab"}},
		{name: "result holding $, quotes and #", env: "A=${ODD:0}\nB=\"${ODD:0}\"\nC=x${ODD: -2}", want: map[string]string{"A": `a $b "c" #d`, "B": `a $b "c" #d`, "C": "x#d"}},
		{name: "escaped dollars", env: "A=$$X\nB=\"\\$X ${X:0:1}\"", want: map[string]string{"A": "$X", "B": "$X a"}},
		{name: "form inside a compose default", env: "A=${NOPE:-${X: -1}}\nB=${X:+${#X}}", want: map[string]string{"A": "f", "B": "6"}},
		{name: "multi-line double-quoted value", env: "A=\"first\n${X:0:1}\"\nB=${#A}", want: map[string]string{"A": "first\na", "B": "7"}},

		// bash semantics: the last assignment before the line
		{name: "earlier line over earlier source", env: "X=xyz\nA=${X: -1} $X ${X}", want: map[string]string{"A": "z xyz xyz"}},
		{name: "later line not seen", env: "A=${#X}\nX=xy", want: map[string]string{"A": "6", "X": "xy"}},
		{name: "key alone inherits", env: "export N\nX", want: map[string]string{"N": "7", "X": "abcdef"}},
		{name: "yaml-style and export", env: "export A=${#X}\nB: ${X:0:1}", want: map[string]string{"A": "6", "B": "a"}},

		// compose forms and unset variables
		{name: "defaults", env: "A=${NOPE:-d}|${NOPE-d}|${EMPTY:-d}|${EMPTY-d}|${NOPE:+p}|${X:+p}", want: map[string]string{"A": "d|d|d||" + "|p"}},
		{name: "unused default is not read", env: "A=${X:-$NOPE}|${NOPE:+$ALSO_NOPE}|${X:-`cat /etc/x`}", want: map[string]string{"A": "abcdef||abcdef"}},
		{name: "required and set", env: "A=${X:?X must be set}${EMPTY?given}", want: map[string]string{"A": "abcdef"}},
		{name: "lone dollar", env: "A=cost: 5$ or $1", want: map[string]string{"A": "cost: 5$ or $1"}},
		{name: "unset variable", env: "# ids\n\nA=1\nTHREDDS_USER_ID=${KARGO_USER_ID}",
			err: "test.env: line 4: variable KARGO_USER_ID is not set and has no default"},
		{name: "unset variable, $NAME form", env: "A=x$NOPE", err: "test.env: line 1: variable NOPE is not set and has no default"},
		{name: "unset variable in a used default", env: "A=${NOPE:-$ALSO_NOPE}", err: "test.env: line 1: variable ALSO_NOPE is not set and has no default"},
		{name: "unset variable in double quotes", env: "A=\"a\nb ${NOPE}\"", err: "test.env: line 2: variable NOPE is not set and has no default"},
		{name: "required", env: "A=1\nB=${NOPE:?set NOPE to the Swarm's domain}", err: "test.env: line 2: variable NOPE is not set: set NOPE to the Swarm's domain"},
		{name: "required and empty", env: "B=${EMPTY:?}", err: "test.env: line 1: variable EMPTY is empty"},
		{name: "substring of an unset variable", env: "A=${NOPE:1}", err: "test.env: line 1: variable NOPE is not set and has no default"},
		{name: "length of an unset variable", env: "A=${#NOPE}", err: "test.env: line 1: variable NOPE is not set and has no default"},
		{name: "unset variable in arithmetic", env: "A=$((NOPE + 1))", err: "test.env: line 1: variable NOPE is not set and has no default"},
		{name: "expr length of an unset variable", env: "A=`expr length $NOPE`", err: "test.env: line 1: variable NOPE is not set and has no default"},

		// what is not evaluated
		{name: "command substitution", env: "A=1\n\n# comment\n\nB=`cat /etc/x`",
			err: "test.env: line 5: command substitution `cat /etc/x` is not supported (only `expr length $VAR` is)"},
		{name: "$( ) command substitution", env: "A=\"$(hostname -f)\"", err: "test.env: line 1: command substitution $(hostname -f) is not supported (only `expr length $VAR` is)"},
		{name: "command substitution in arithmetic", env: "A=$((`id -u` + 1))", err: "test.env: line 1: command substitution `id -u` is not supported (only `expr length $VAR` is)"},
		{name: "unterminated command substitution", env: "A=`expr length $X", err: "test.env: line 1: unterminated command substitution `expr length $X"},
		{name: "pattern removal", env: "A=x\nB=${X%%.*}", err: "test.env: line 2: ${X%%.*} is not supported (Kargo evaluates, of the bash forms, ${VAR:offset:length}, ${#VAR}, $((...)) and `expr length $VAR`)"},
		{name: "assignment", env: "A=${NOPE:=d}", err: "test.env: line 1: ${NOPE:=d} is not supported (Kargo evaluates, of the bash forms, ${VAR:offset:length}, ${#VAR}, $((...)) and `expr length $VAR`)"},
		{name: "indirection", env: "A=${!X}", err: "test.env: line 1: ${!X} is not supported (Kargo evaluates, of the bash forms, ${VAR:offset:length}, ${#VAR}, $((...)) and `expr length $VAR`)"},
		{name: "empty offset", env: "A=${X:}", err: "test.env: line 1: ${X:} is not supported (Kargo evaluates, of the bash forms, ${VAR:offset:length}, ${#VAR}, $((...)) and `expr length $VAR`)"},
		{name: "substring expression < 0", env: "A=${X:4:-3}", err: "test.env: line 1: ${X:4:-3}: substring expression < 0 (the negative length ends before the offset)"},
		{name: "division by 0", env: "A=$((1/0))", err: "test.env: line 1: $((1/0)): division by 0"},
		{name: "power", env: "A=$((2**3))", err: `test.env: line 1: $((2**3)): "**" is not supported (+ - * / % and parentheses are)`},
		{name: "comparison", env: "A=$((2 < 3))", err: `test.env: line 1: $((2 < 3)): "< 3" is not supported (+ - * / % and parentheses are)`},
		{name: "not an octal number", env: "A=$((08))", err: "test.env: line 1: $((08)): 08 is not a number"},
		{name: "missing parenthesis", env: "A=${X:(1}", err: "test.env: line 1: ${X:(1}: missing )"},
		{name: "empty arithmetic", env: "A=$(( ))", err: "test.env: line 1: $(( )): an operand is missing"},
		{name: "variable that is not an integer", env: "A=$((WORD + 1))", err: "test.env: line 1: $((WORD + 1)): the value of WORD is not an integer"},
		{name: "dotenv's own error, on its line", env: "A=1\n\nBAD KEY=2", err: "test.env: line 3: key cannot contain a space"},
		{name: "unterminated quote, on its line", env: "A=1\nB='x\nC=3", err: "test.env: line 2: unterminated quoted value 'x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVariables(Source{Origin: "spec.variables", Values: earlier}, dotenvSource("test.env", tt.env))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error:\n got %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got, ok := v.Lookup(name); !ok || got != want {
					t.Errorf("%s = %q (set: %v), want %q", name, got, ok, want)
				}
			}
		})
	}
	if logs.Len() > 0 {
		t.Errorf("compose-go logged:\n%s", logs.String())
	}
}

// TestDotenvShellSecret: in a .env held in a Secret, an error keeps its line
// and the variable it names, never the text of the file.
func TestDotenvShellSecret(t *testing.T) {
	for env, want := range map[string]string{
		"A=1\nPASSWORD=`cat /run/hunter2`":   "Secret s key .env: line 2: command substitution is not supported (content not shown: it comes from a Secret)",
		"PASSWORD=${hunter2%x}":              "Secret s key .env: line 1: unsupported ${...} form (content not shown: it comes from a Secret)",
		"PASSWORD=$((hunter2 ** 2))":         "Secret s key .env: line 1: variable hunter2 is not set and has no default",
		"N=hunter2\nPASSWORD=$((N + 1))":     "Secret s key .env: line 2: arithmetic: an operand is not an integer (content not shown: it comes from a Secret)",
		"PASSWORD=${DB_PASSWORD:?hunter2}":   "Secret s key .env: line 1: variable DB_PASSWORD is not set (content not shown: it comes from a Secret)",
		"PASSWORD=${DB_PASSWORD}":            "Secret s key .env: line 1: variable DB_PASSWORD is not set and has no default",
		"A=1\nPASS WORD=hunter2":             "Secret s key .env: line 2: malformed (content not shown: it comes from a Secret)",
		"PASSWORD=hunter2\nX=${PASSWORD:2:}": "",
	} {
		_, err := NewVariables(Source{Origin: "Secret s key .env", Dotenv: &env, SecretName: "s"})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", env, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("%q:\n got %v\nwant %s", env, err, want)
		}
	}
}

// TestDotenvShellSecretCopy: a plain .env cannot copy a Secret value
// through the bash forms either.
func TestDotenvShellSecretCopy(t *testing.T) {
	_, err := NewVariables(
		Source{Origin: "Secret s", SecretName: "s", Values: map[string]string{"TOKEN": "hunter2"}},
		dotenvSource(".env", "PREFIX=${TOKEN:0:3}\n"),
	)
	if err == nil || !strings.Contains(err.Error(), "reads variable TOKEN, which comes from Secret s") {
		t.Errorf("plain .env copying part of a Secret value: %v", err)
	}
	// Its own TOKEN, assigned before, is not the Secret's.
	if _, err := NewVariables(
		Source{Origin: "Secret s", SecretName: "s", Values: map[string]string{"TOKEN": "hunter2"}},
		dotenvSource(".env", "TOKEN=public\nPREFIX=${TOKEN:0:3}$TOKEN\n"),
	); err != nil {
		t.Errorf("plain .env reading its own TOKEN: %v", err)
	}
}
