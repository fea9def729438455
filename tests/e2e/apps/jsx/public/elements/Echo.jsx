export default function Echo() {
  return (
    <div>
      <p id="echo">{props.text}</p>
      <p id="echo-title" title={props.text}>as an attribute</p>
    </div>
  );
}
