"""`make bench` only (config/settings_bench.py): the number of database queries a request made, in the
`X-Bench-Queries` response header, so the benchmark counts them over the real server with DEBUG off."""

from django.db import connection


class QueryCountMiddleware:
    header = "X-Bench-Queries"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counting(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            response = self.get_response(request)  # template responses are rendered inside
        response[self.header] = str(count)
        return response
