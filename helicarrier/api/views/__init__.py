"""The API's views, one module per resource. Each is a plain function: the route table
(``helicarrier.api.routes``) gives it its path, method and scope."""
