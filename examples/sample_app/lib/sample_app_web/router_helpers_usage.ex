defmodule SampleAppWeb.RouterHelpersUsage do
  @moduledoc "STY002: router helpers instead of verified routes; SEC006: raw/1 on data."
  use Phoenix.Component

  alias SampleAppWeb.Router.Helpers, as: Routes

  def dashboard_link(conn, filters), do: Routes.dashboard_path(conn, :index, filters)

  def comment(assigns) do
    ~H"""
    <div class="comment">{raw(@comment.body)}</div>
    """
  end
end
