package exchangefile_test

import (
	"fmt"
	"log"

	"github.com/auditproxy/auditproxy/exchangefile"
)

func ExampleRead() {
	file := `### alice creates bob
POST /users HTTP/1.1
Host: app.example
Content-Type: application/json

{"email":"bob@example.com"}

HTTP/1.1 201 Created
Content-Type: application/json

{"id":7}
###
DELETE /users/7 HTTP/1.1
Host: app.example

upstream-error: timeout
`
	xs, err := exchangefile.Read("exchange.txt", []byte(file))
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range xs {
		fmt.Printf("%s %s%s -> %d %s %s\n", x.Method, x.Host, x.Path, x.Status, x.RequestBody.Data, x.ResponseBody.Data)
	}
	// Output:
	// POST app.example/users -> 201 {"email":"bob@example.com"} {"id":7}
	// DELETE app.example/users/7 -> 504
}
