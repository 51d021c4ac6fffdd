package postgresdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riskledger/riskledger/domain"
)

func TestErrorCodes(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"connection failure class 08", pg("08006"), domain.Unavailable},
		{"admin shutdown 57P01", pg("57P01"), domain.Unavailable},
		{"cannot connect now 57P03", pg("57P03"), domain.Unavailable},
		{"query cancelled 57014 is not an outage", pg("57014"), domain.Internal},
		{"too many connections 53300", pg("53300"), domain.Unavailable},
		{"disk full 53100", pg("53100"), domain.Unavailable},
		{"bad password 28P01", pg("28P01"), domain.Invalid},
		{"unique violation 23505", pg("23505"), domain.Internal},
		{"connection reset", fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), domain.Unavailable},
		{"server closed the connection", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), domain.Unavailable},
		{"closed connection", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), domain.Unavailable},
		{"something else", errors.New("boom"), domain.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Error(tc.err)
			if got := domain.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("%v lost the driver's error from its chain", err)
			}
		})
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		wrapped := fmt.Errorf("timeout: %w", ctxErr)
		if err := Error(wrapped); err != wrapped {
			t.Errorf("Error(%v) = %v, want it unchanged", wrapped, err)
		}
	}
}
