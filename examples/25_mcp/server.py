"""The example's MCP server, written with the official `mcp` SDK: the weather in a few
cities and a unit conversion. The app starts it over stdio (its `lightchat.toml` declares
it); run it alone with `python server.py` to talk MCP on stdin and stdout."""

from mcp.server.mcpserver import MCPServer

WEATHER = {"paris": ("sunny", 21), "oslo": ("snowing", -3), "lima": ("overcast", 17)}

server = MCPServer("weather", instructions="The weather now in Paris, Oslo and Lima.")


@server.tool()
def get_weather(city: str) -> str:
    """The weather now in a city (Paris, Oslo or Lima), in degrees Celsius."""
    sky, celsius = WEATHER.get(city.strip().lower(), ("cloudy", 12))
    return f"{city.strip().title()}: {sky}, {celsius} °C"


@server.tool()
def to_fahrenheit(celsius: float) -> str:
    """A temperature in degrees Celsius, in degrees Fahrenheit."""
    return f"{celsius * 9 / 5 + 32:.1f} °F"


if __name__ == "__main__":
    server.run()
