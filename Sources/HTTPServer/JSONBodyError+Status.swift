import Wire

extension JSONBodyError {
    /// `400 Bad Request`: the status every JSON body error is answered with.
    public var status: HTTPStatus { .badRequest }
}
