from .request_id import bind_request_id, clear_request_id

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = bind_request_id(request.headers.get(HEADER))
        try:
            response = self.get_response(request)
        finally:
            clear_request_id()
        response[HEADER] = request.id
        return response
