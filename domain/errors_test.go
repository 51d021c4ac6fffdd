package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/riskledger/riskledger/domain"
)

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := fmt.Errorf("append: %w", domain.Errorf(domain.Conflict, "stream %q moved on", "s"))
	if got := domain.ErrorCode(wrapped); got != domain.Conflict {
		t.Errorf("code of a wrapped error: %q", got)
	}
	if got := domain.ErrorMessage(wrapped); got != `stream "s" moved on` {
		t.Errorf("message of a wrapped error: %q", got)
	}
	plain := errors.New("pq: connection reset by peer at 10.0.0.1")
	if domain.ErrorCode(plain) != domain.Internal {
		t.Errorf("a plain error is not internal")
	}
	if msg := domain.ErrorMessage(plain); msg == plain.Error() {
		t.Errorf("an internal error's detail leaks: %q", msg)
	}
	if domain.ErrorCode(nil) != "" || domain.ErrorMessage(nil) != "" {
		t.Errorf("nil has a code or message")
	}
}
