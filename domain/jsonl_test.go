package domain_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/riskledger/riskledger/domain"
)

// result is what ParseJSONL reported for one line.
type result struct {
	line int
	name string
	err  error
}

func readAll(t *testing.T, r io.Reader) ([]result, error) {
	t.Helper()
	var got []result
	err := domain.ParseJSONL(r, testOptions(t), func(lineNo int, cmd domain.Command, err error) error {
		got = append(got, result{lineNo, cmd.Name(), err})
		return nil
	})
	return got, err
}

func TestParseJSONL(t *testing.T) {
	t.Run("given lines with blanks, CRLF, a BOM and a bad line, when read, then every line is reported with its number", func(t *testing.T) {
		file := "\uFEFF" + expand(validLines[0]) + "\r\n" +
			"\n" +
			"   \t\n" +
			`{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":"me","result":"confirmed"}` + "\n" +
			expand(validLines[1]) // no final newline
		got, err := readAll(t, strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("reported %d lines: %+v", len(got), got)
		}
		if got[0].line != 1 || got[0].name != domain.CmdRegisterPerson || got[0].err != nil {
			t.Errorf("line 1: %+v", got[0])
		}
		if got[1].line != 4 || domain.ErrorCode(got[1].err) != domain.Invalid || !strings.Contains(domain.ErrorMessage(got[1].err), `field "person_id"`) {
			t.Errorf("line 4: %+v", got[1])
		}
		if got[2].line != 5 || got[2].name != domain.CmdVerifyIdentity || got[2].err != nil {
			t.Errorf("line 5: %+v", got[2])
		}
	})
	t.Run("given every valid line, when read, then all parse in order", func(t *testing.T) {
		var file strings.Builder
		for _, l := range validLines {
			file.WriteString(expand(l) + "\n")
		}
		got, err := readAll(t, strings.NewReader(file.String()))
		if err != nil || len(got) != len(validLines) {
			t.Fatalf("%d results, %v", len(got), err)
		}
		for i, r := range got {
			if r.err != nil || r.line != i+1 || r.name != domain.CommandNames()[i] {
				t.Errorf("result %d: %+v", i, r)
			}
		}
	})
	t.Run("given a line over the limit, when read, then it is rejected and the next line is read", func(t *testing.T) {
		file := strings.Repeat("x", domain.MaxLineBytes+10) + "\n" + expand(validLines[1]) + "\n"
		got, err := readAll(t, strings.NewReader(file))
		if err != nil || len(got) != 2 {
			t.Fatalf("%+v, %v", got, err)
		}
		if domain.ErrorCode(got[0].err) != domain.Invalid || !strings.Contains(domain.ErrorMessage(got[0].err), "longer than") {
			t.Errorf("line 1: %+v", got[0])
		}
		if got[1].line != 2 || got[1].err != nil {
			t.Errorf("line 2: %+v", got[1])
		}
	})
	t.Run("given a line of exactly the limit, when read, then it is parsed", func(t *testing.T) {
		prefix := `{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"` + event1 + `","reason":"`
		line := prefix + strings.Repeat("a", domain.MaxLineBytes-len(prefix)-2) + `"}`
		got, err := readAll(t, strings.NewReader(line+"\r\n"))
		if err != nil || len(got) != 1 {
			t.Fatalf("%+v, %v", got, err)
		}
		// The line parses as JSON; its reason is then too long, which
		// shows that the whole line reached the parser.
		if !strings.Contains(domain.ErrorMessage(got[0].err), `field "reason" must be at most 2000 characters`) {
			t.Errorf("line 1: %+v", got[0])
		}
	})
	t.Run("given a callback that fails, when read, then reading stops with its error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := domain.ParseJSONL(strings.NewReader(expand(validLines[0])+"\n"+expand(validLines[1])+"\n"), testOptions(t),
			func(int, domain.Command, error) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("given a reader that fails, when read, then the error names the line", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(expand(validLines[0])+"\n"), iotest.ErrReader(io.ErrClosedPipe))
		got, err := readAll(t, r)
		if !errors.Is(err, io.ErrClosedPipe) || !strings.Contains(err.Error(), "read line 2") || len(got) != 1 {
			t.Errorf("err %v, results %+v", err, got)
		}
	})
	t.Run("given an empty file, when read, then nothing is reported", func(t *testing.T) {
		got, err := readAll(t, strings.NewReader(""))
		if err != nil || len(got) != 0 {
			t.Errorf("%+v, %v", got, err)
		}
	})
	t.Run("given options without a zone, when read, then nothing is read", func(t *testing.T) {
		err := domain.ParseJSONL(strings.NewReader(expand(validLines[0])), domain.ParseOptions{},
			func(int, domain.Command, error) error { t.Error("called"); return nil })
		if domain.ErrorCode(err) != domain.Internal {
			t.Errorf("got %v", err)
		}
	})
}
