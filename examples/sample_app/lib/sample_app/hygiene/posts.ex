defmodule SampleApp.Hygiene.Posts do
  @moduledoc "Backend hygiene examples: each function trips one ECT/SEC/PRF rule."

  import Ecto.Query
  alias Ecto.Multi
  alias SampleApp.Repo

  @api_key "k-7f3a9c21d0"

  # ECT001: one preload query per post
  def with_authors(posts), do: Enum.map(posts, &Repo.preload(&1, :author))

  # ECT002 + ECT003: a 2-tuple error clause on a Multi, and a broadcast before COMMIT
  def publish(post) do
    multi =
      Multi.new()
      |> Multi.update(:post, Ecto.Changeset.change(post, published: true))
      |> Multi.run(:notify, fn _repo, %{post: p} ->
        Phoenix.PubSub.broadcast(SampleApp.PubSub, "posts", {:published, p.id})
        {:ok, p}
      end)

    case Repo.transaction(multi) do
      {:ok, %{post: p}} -> {:ok, p}
      {:error, reason} -> {:error, reason}
    end
  end

  # SEC002: a value interpolated into raw SQL
  def by_slug(slug), do: Repo.query!("SELECT * FROM posts WHERE slug = '#{slug}'")

  # SEC005: binary_to_term on a cookie
  def decode_cookie(value), do: :erlang.binary_to_term(Base.decode64!(value))

  # PRF002: counting rows to test existence
  def any_drafts?, do: Repo.aggregate(from(p in "posts", where: p.draft), :count) > 0

  def api_key, do: @api_key
end
