package dynamo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// maxItemMessage is how DynamoDB (and moto) begin the ValidationException of
// a write over the 400 KB item size.
const maxItemMessage = "Item size has exceeded"

// sizeError maps DynamoDB's refusal of an item over the size limit to
// ci.ErrTooLarge, keeping the service's message; other errors pass as they are.
func sizeError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" && strings.Contains(ae.ErrorMessage(), maxItemMessage) {
		return fmt.Errorf("%w: %s", ci.ErrTooLarge, ae.ErrorMessage())
	}
	return err
}
