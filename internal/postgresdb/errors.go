package postgresdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riskledger/riskledger/domain"
)

// Error gives a driver error the domain code a caller can act on. The
// driver's error stays in the chain (for the log and for errors.Is on
// context errors); only the domain message is meant for people.
//
// A server that cannot be reached, or that dropped or shut down the
// connection (SQLSTATE classes 08 and 57P0, network errors), is Unavailable,
// as is one out of resources (class 53); refused credentials (class 28) and
// a missing database (3D000) are Invalid. Context errors, domain errors and
// every other error are returned unchanged, and nil as nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var derr *domain.Error
	if errors.As(err, &derr) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "57P0"):
			return unavailable(err)
		case strings.HasPrefix(code, "53"):
			return fmt.Errorf("%w (%w)", domain.Errorf(domain.Unavailable,
				"the database is out of resources (connections, memory or disk); retry later or ask its administrator"), err)
		case strings.HasPrefix(code, "28"):
			return fmt.Errorf("%w (%w)", domain.Errorf(domain.Invalid,
				"the database refused the credentials; check the user and password in the database URL"), err)
		case code == "3D000":
			return fmt.Errorf("%w (%w)", domain.Errorf(domain.Invalid,
				"the database named in the URL does not exist; create it or correct the URL"), err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return fmt.Errorf("%w (%w)", domain.Errorf(domain.Unavailable,
		"the database is unavailable; check that PostgreSQL is running and reachable, then retry"), err)
}
