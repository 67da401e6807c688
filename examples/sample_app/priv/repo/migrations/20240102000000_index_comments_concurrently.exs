defmodule SampleApp.Repo.Migrations.IndexCommentsConcurrently do
  use Ecto.Migration

  def change do
    create index(:comments, [:inserted_at], concurrently: true)
  end
end
