defmodule Thunderline.Thunderbolt.Sagas.UserProvisioningSaga do
  @moduledoc "Provision a user: magic link, vault, default community."
  use Reactor, extensions: [Reactor.Dsl]
  require Logger

  alias Thunderline.Thundergate.Authentication.MagicLinkSender

  input :email
  input :correlation_id

  step :send_magic_link do
    argument :token_data, result(:create_token)
    argument :redirect, input(:redirect)

    run fn %{token_data: token_data, redirect: redirect}, _ ->
      case MagicLinkSender.send_magic_link(
             token_data.email,
             token_data.token,
             redirect
           ) do
        :ok -> {:ok, token_data}
        {:error, reason} -> {:error, reason}
      end
    end
  end

  step :create_default_community do
    argument :user, result(:create_user)

    run fn %{user: user}, _ ->
      Thunderline.Thunderlink.Community.add_member(user.id, :default)
    end

    compensate fn _membership, _ ->
      # TODO: Remove community membership
      Logger.warning("Compensating: removing community membership")
      {:ok, :compensated}
    end
  end

  step :complete_onboarding do
    argument :correlation_id, input(:correlation_id)
    argument :user_id, result(:create_user, [:id])

    run fn %{user_id: user_id, correlation_id: correlation_id}, _ ->
      Thunderline.Event.new(
        name: "user.onboarding.complete",
        payload: %{user_id: user_id},
        correlation_id: correlation_id,
        causation_id: nil
      )
      |> Thunderline.EventBus.publish_event()
    end
  end
end
